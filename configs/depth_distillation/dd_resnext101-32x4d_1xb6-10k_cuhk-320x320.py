# Depth distillation (Cun & Pun, ECCV 2020), full model ("OursFull ResNeXt", Table 1 / Table 2):
# ResNeXt-101 32x4d + SABHead (SRFB, defocus and depth side outputs, SAB, PredictionFusion),
# class-balanced BCE + 0.1 x depth distillation (MSE), SGD 0.9, lr 0.005, batch 6, 320x320.
# Protocol of the paper (Sec. 4): train on the 604 CUHK training images, test the same model on
# CUHK100 and DUT500; `tools/test.py` on this config reports both sets (keys CUHK/..., DUT/...).
#
# Depth targets: every training image needs data/cuhk_dbd/train/depth/<stem>.png, the depth map of
# a TEACHER network normalised to [0, 1] (8- or 16-bit). The paper's teacher is Chen et al. 2016
# ("Depth in the Wild"); dbdseg takes any teacher the user supplies:
#   python tools/dataset_converters/generate_depth_targets.py TEACHER_CONFIG TEACHER_CKPT \
#       --images data/cuhk_dbd/train/images --out data/cuhk_dbd/train/depth --img-suffix .jpg
# which writes 16-bit PNGs plus data/cuhk_dbd/train/depth/teacher.json naming the teacher that made
# them (see README.md, "Depth targets"). Test sets need no depth.
_base_ = [
    '../_base_/models/depth_distillation.py', '../_base_/datasets/dbd_benchmarks.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_depth_distillation_10k.py'
]
crop_size = (320, 320)
data_preprocessor = dict(size=crop_size)
model = dict(data_preprocessor=data_preprocessor)
# Data: the DBD benchmark base (test on CUHK100 and DUT500 in one run, MultiSetDataset, one metric
# block per set), trained on CUHK instead of DUT and validated during training on CUHK100 only
# (checkpoint 'best' by its maxF). CUHKDBDDataset inverts the original masks (white = blurred).
dataset_type = 'CUHKDBDDataset'
data_root = 'data/cuhk_dbd'
# batch 6 on one device = the paper's batch (one GTX 1080). Augmentation: resize to 320x320 and
# horizontal flip (the dataset base); the paper names no other.
train_dataloader = dict(
    batch_size=6,
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(
            img_path='train/images', seg_map_path='train/masks', depth_map_path='train/depth')))
val_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root))
# maxF etc. (SOD protocol) beside DD's adaptive-threshold F: 'dd' = per-image mean at 1.5 x mean
# (the paper's text), 'dd_pooled' = pixels pooled over the set (DD's eval notebook).
val_evaluator = dict(type='SODMetric', dbd_protocols=['dd', 'dd_pooled'])
test_evaluator = val_evaluator
