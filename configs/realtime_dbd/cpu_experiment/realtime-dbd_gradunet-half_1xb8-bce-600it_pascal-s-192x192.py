# CPU SOD -> DBD transfer experiment, SOD step: the same network and schedule trained for salient
# object detection on 750 PASCAL-S images, the other 100 held out for the SOD test. The split lists
# (train.txt, test.txt: a seeded shuffle of the 850 stems, random.Random(0)) and the folder
#   <data_root>/{images,masks,train.txt,test.txt}
# are made as in configs/realtime_dbd/README.md ("CPU transfer experiment").
_base_ = './realtime-dbd_gradunet-half_1xb8-bce-600it_synthetic-defocus-192x192.py'
data_root = 'work_dirs/exp/pascal_s'
dataset_type = 'PASCALSDataset'
train_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(_delete_=True, img_path='images', seg_map_path='masks'),
        ann_file='train.txt',
        set_name='PASCAL-S-train'))
val_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(_delete_=True, img_path='images', seg_map_path='masks'),
        ann_file='test.txt',
        set_name='PASCAL-S-test100'))
test_dataloader = val_dataloader
