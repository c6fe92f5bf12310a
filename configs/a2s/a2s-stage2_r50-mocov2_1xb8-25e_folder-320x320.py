# A2S stage 2 on any folder of images with pseudo labels (no masks anywhere):
#   data/unlabeled/images/<stem>.jpg          your photos (listed recursively)
#   data/unlabeled/pseudo_labels/<stem>.png   from tools/a2s/generate_pseudo_labels.py:
#     python tools/a2s/generate_pseudo_labels.py configs/a2s/a2s-stage1_r50-mocov2_1xb8-20e_folder-320x320.py \
#         <stage-1 checkpoint> data/unlabeled/images --out data/unlabeled/pseudo_labels
# Other places: --cfg-options train_dataloader.dataset.data_root=/path \
#   train_dataloader.dataset.data_prefix.img_path=imgs train_dataloader.dataset.img_suffix=.png
_base_ = './a2s-stage2_r50-mocov2_1xb8-25e_msra-b-320x320.py'
crop_size = (320, 320)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadBinaryAnnotations'),
    dict(type='Resize', scale=crop_size, keep_ratio=False),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackBinarySegInputs'),
]
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='BinarySegDataset',
        data_root='data/unlabeled',
        data_prefix=dict(img_path='images', seg_map_path=None, pseudo_label_path='pseudo_labels'),
        set_name='unlabeled',
        pipeline=train_pipeline))
