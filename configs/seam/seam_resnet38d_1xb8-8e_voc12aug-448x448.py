# SEAM, official recipe: ResNet38d from ImageNet, VOC train_aug, batch 8,
# 8 epochs, crop 448, fp32. Validation: CAM pseudo-label mIoU on VOC train.
_base_ = [
    '../_base_/models/seam_resnet38d.py',
    '../_base_/datasets/voc12aug_cls.py',
    'mmseg::_base_/default_runtime.py',
    '../_base_/schedules/seam_sgd-poly_8e.py',
]
# mIoU at the fixed background threshold and over the sweep 0.00-0.59
val_evaluator = [
    dict(type='IoUMetric', iou_metrics=['mIoU']),
    dict(type='CAMSweepMetric', prefix='cam_sweep'),
]
test_evaluator = val_evaluator
