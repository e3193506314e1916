# Copyright (c) mmseam contributors. All rights reserved.
"""CAMs and pseudo label of one image with a trained SEAM classifier.

Writes one PNG: the image | a CAM heat map per class | the pseudo label
(argmax of the background threshold of the config's ``model.test_cfg`` and
the CAMs of the shown classes, in the dataset palette). The classes shown
are those given with ``--classes``, else the predicted ones: the image-level
probability (the CAM branch pooled as in training, through a sigmoid) above
``model.test_cfg.cls_threshold`` (default 0.5), else the top class.

Example::

    python demo/image_demo.py demo.jpg \\
        configs/seam/seam_resnet38d_1xb8-8e_voc12aug-448x448.py \\
        work_dirs/seam_resnet38d_1xb8-8e_voc12aug-448x448/epoch_8.pth \\
        --out-file demo_cams.png --device cpu
"""
import argparse
import os.path as osp


def parse_args():
    parser = argparse.ArgumentParser(
        description='Draw the CAMs and pseudo label of one image.')
    parser.add_argument('img', help='Image file.')
    parser.add_argument('config', help='SEAM config file.')
    parser.add_argument('checkpoint', help='Checkpoint file.')
    parser.add_argument(
        '--out-file',
        default=None,
        help='Output PNG (default: <image name>_cams.png in the working '
        'directory).')
    parser.add_argument(
        '--cam-source',
        choices=['pcm', 'cam'],
        default=None,
        help='PCM output or CAM branch (default: the config\'s '
        'model.test_cfg.cam_source).')
    parser.add_argument(
        '--classes',
        nargs='+',
        default=None,
        help='Class names or indices to show (default: the predicted '
        'classes).')
    parser.add_argument(
        '--device',
        default=None,
        help='Device, e.g. cpu or cuda:0 (default: cuda:0 when available).')
    return parser.parse_args()


def main():
    args = parse_args()
    for path, what in ((args.img, 'image'), (args.config, 'config'),
                       (args.checkpoint, 'checkpoint')):
        if not osp.isfile(path):
            raise SystemExit(f'{what} file {path} does not exist.')
    import torch

    import mmseam  # noqa: F401  (registers mmseam; torch>=2.6 checkpoints)
    from mmseg.apis import init_model

    from mmseam.apis import inference_cams, render_cams
    device = args.device or ('cuda:0'
                             if torch.cuda.is_available() else 'cpu')
    model = init_model(args.config, args.checkpoint, device=device)
    result = inference_cams(
        model, args.img, classes=args.classes, cam_source=args.cam_source)
    out_file = args.out_file or (
        osp.splitext(osp.basename(args.img))[0] + '_cams.png')
    palette = (getattr(model, 'dataset_meta', None) or {}).get('palette')
    render_cams(result, out_file, palette=palette)
    shown = ', '.join(f'{result.class_names[c]} '
                      f'{result.scores[c - 1]:.3f}' for c in result.class_ids)
    how = 'predicted' if result.predicted else 'given'
    print(f'{how} classes (image-level probability): {shown}')
    print(f'wrote {out_file}')


if __name__ == '__main__':
    main()
