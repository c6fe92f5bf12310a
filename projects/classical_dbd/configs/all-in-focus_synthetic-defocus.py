# The all-in-focus reference of all-in-focus_dut-dbd.py on the validation split of dbdseg's
# synthetic defocus renders (tools/dataset_converters/synthesize_defocus.py; layout in
# configs/_base_/datasets/synthetic_defocus.py), at the original render size (tools/demo.sh).
# From the repository root:
#   python tools/test.py projects/classical_dbd/configs/all-in-focus_synthetic-defocus.py none
_base_ = './all-in-focus_dut-dbd.py'

test_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='BinarySegDataset',
        data_root='data/synthetic_defocus',
        data_prefix=dict(img_path='images', seg_map_path='masks'),
        ann_file='val.txt',  # suffixes and polarity: BinarySegDataset's (.jpg, .png, no invert)
        pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='LoadBinaryAnnotations'),
            dict(type='PackBinarySegInputs'),
        ]))
