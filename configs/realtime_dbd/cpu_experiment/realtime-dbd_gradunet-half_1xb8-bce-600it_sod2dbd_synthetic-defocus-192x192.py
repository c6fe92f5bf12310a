# CPU SOD -> DBD transfer experiment, fine-tune arm: the "DBD only" config started from the SOD
# checkpoint of realtime-dbd_gradunet-half_1xb8-bce-600it_pascal-s-192x192.py (weights only).
_base_ = './realtime-dbd_gradunet-half_1xb8-bce-600it_synthetic-defocus-192x192.py'
load_from = 'work_dirs/cpu_transfer/realtime_sod/iter_600.pth'
