# SOD -> DBD transfer (AFIU, Qian et al.: "first trained for SOD, then fine-tuned for DBD"), step 2,
# for the real-time DBD network: the CUHK DBD training of
# realtime-dbd_gradunet_1xb64-bce-19k_cuhk-320x320.py started from the SOD checkpoint of step 1
# (realtime-dbd_gradunet_1xb64-bce-19k_duts-320x320.py). Only the initial weights differ.
#   python tools/train.py configs/realtime_dbd/realtime-dbd_gradunet_1xb64-bce-19k_duts-320x320.py
#   python tools/train.py THIS_CONFIG --cfg-options load_from=work_dirs/<step-1 work dir>/iter_19000.pth
# load_from loads weights only (fresh optimiser, schedule and iteration counter), as mmseg does.
_base_ = './realtime-dbd_gradunet_1xb64-bce-19k_cuhk-320x320.py'
load_from = 'work_dirs/realtime-dbd_gradunet_1xb64-bce-19k_duts-320x320/iter_19000.pth'
