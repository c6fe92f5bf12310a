# A2S stage 1 on any folder of unlabeled images (no masks anywhere). Point it at your photos with
#   --cfg-options train_dataloader.dataset.data_root=/path/to/photos \
#                 train_dataloader.dataset.img_suffix=.png   (default .jpg)
# (the folder is listed recursively; `train_dataloader.dataset.data_prefix.img_path=sub/dir`
# selects a sub-folder, `train_dataloader.dataset.ann_file=list.txt` a list of stems).
_base_ = './a2s-stage1_r50-mocov2_1xb8-20e_msra-b-320x320.py'
crop_size = (320, 320)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=crop_size, keep_ratio=False),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackBinarySegInputs'),
]
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='BinarySegDataset',
        data_root='data/unlabeled',
        data_prefix=dict(img_path='', seg_map_path=None),  # unlabeled
        set_name='unlabeled',
        pipeline=train_pipeline))
