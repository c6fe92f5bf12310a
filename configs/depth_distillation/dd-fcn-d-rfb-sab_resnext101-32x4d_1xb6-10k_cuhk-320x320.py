# Table 2 ablation, "+D+RFB+SA" (paper: CUHK F .931 / MAE .040, DUT F .887 / MAE .075): the full
# model with the SRFB's selection removed ("the model without selective attention (similar to
# RFB)", Sec. 4.2): same pyramid (identity + cascaded 3/5/7 dilated convs), merged by
# concatenation + 1x1 conv (dbdseg's reading; merge='sum' is the other). Needs the depth maps.
_base_ = './dd_resnext101-32x4d_1xb6-10k_cuhk-320x320.py'
model = dict(
    decode_head=dict(
        block_cfg=dict(
            _delete_=True,
            type='RFB',
            reduction=4,
            kernel_sizes=(3, 5, 7),
            dilations=(3, 5, 7),
            cascade=True,
            with_identity=True,
            merge='concat')))
