# SEAM, official recipe (spec 1.3): ResNet38d from ImageNet, PASCAL VOC 2012
# train_aug (10,582 images), batch 8 on 1 GPU, 8 epochs (10,576 iterations),
# crop 448, rescale 0.3 equivariance, PCM + cls + min-pool + ER + ECR.
# Validation = CAM pseudo-label mIoU on VOC train (1,464 images, fine GT).
# This is the strict-parity recipe (fp32, official numerics; the parity tests
# use it). On a GPU, seam_resnet38d_1xb8-bf16-8e_voc12aug-448x448.py runs the same
# recipe with bf16 autocast, channels_last and faster data loading.
_base_ = [
    '../_base_/models/seam_resnet38d.py',
    '../_base_/datasets/voc12aug_cls.py',
    'mmseg::_base_/default_runtime.py',
    '../_base_/schedules/seam_sgd-poly_8e.py',
]
# CAM pseudo-label quality: mIoU at the fixed background threshold
# (IoUMetric on pred_sem_seg) and the official threshold sweep 0.00-0.59.
val_evaluator = [
    dict(type='IoUMetric', iou_metrics=['mIoU']),
    dict(type='CAMSweepMetric', prefix='cam_sweep'),
]
test_evaluator = val_evaluator
