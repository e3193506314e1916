# Copyright (c) mmseam contributors. All rights reserved.
"""The run's report: a results table (``results.md``) and a figure
(``figure.png``: image | ground truth | CAMs | pseudo label | stage 2)."""
import os.path as osp
from typing import List, Optional, Sequence, Tuple

from ..cam_io import atomic_write
from .common import log

Row = Tuple[str, float, str, str]


def result_rows(r: dict, split: str) -> List[Row]:
    """``(step, mIoU, images, note)`` rows of the steps in ``r`` (the
    ``results`` of ``results.json``)."""
    rows = [
        ('CAM baseline (multi-scale CAM, best bg threshold)',
         r['cam_cam']['mIoU'], f'{split}',
         f'bg thr {r["cam_cam"]["bg_threshold"]:.2f}'),
        ('SEAM (PCM output, best bg threshold)', r['seam_cam']['mIoU'],
         split, f'bg thr {r["seam_cam"]["bg_threshold"]:.2f}'),
        ('SEAM + dense CRF', r['seam_crf']['mIoU'], split,
         f'alpha {r["seam_crf"]["alpha"]}'),
    ]
    if 'seam_rw' in r:
        rows.append(('SEAM + AffinityNet random walk', r['seam_rw']['mIoU'],
                     split, f'alpha {r["seam_rw"].get("alpha", 6)}, beta 8, '
                     'logt 6'))
    if 'stage2_val' in r:
        rows.append(('Stage 2: DeepLab-v1 LargeFOV on the pseudo labels',
                     r['stage2_val']['mIoU'], 'val (held out)', ''))
    return rows


def markdown_table(rows: Sequence[Row]) -> str:
    """A markdown table of ``(step, mIoU, images, note)`` rows."""
    lines = ['| step | mIoU (%) | images | note |', '|---|---|---|---|']
    lines += [f'| {a} | {b:.2f} | {c} | {d} |' for a, b, c, d in rows]
    return '\n'.join(lines)


class ReportStep:
    """Mixin of :class:`Pipeline`: the table and the figure."""

    def report(self, cam_out: str, seam_out: str, pseudo_dir: str,
               seg_cfg=None, seg_ckpt: Optional[str] = None) -> None:
        """Print and write ``results.md``, draw ``figure.png``."""
        r = dict(self.results)
        if seg_ckpt is None:
            r.pop('stage2_val', None)
        table = markdown_table(result_rows(r, self.p['eval_split']))
        print('\n' + table + '\n', flush=True)
        md = osp.join(self.work, 'results.md')
        atomic_write(md, lambda f: f.write((table + '\n').encode()))
        fig = self.figure(cam_out, seam_out, pseudo_dir, seg_cfg, seg_ckpt)
        log(f'results: {md}, {self.results_path}; figure: {fig}')

    def figure(self, cam_out: str, seam_out: str, pseudo_dir: str,
               seg_cfg=None, seg_ckpt: Optional[str] = None) -> str:
        """image | GT | CAM baseline | SEAM CAM | pseudo label (| stage-2
        prediction, when stage 2 ran) for the first ``--figure-rows``
        images of the scored split; returns the figure's path."""
        from mmengine.registry import init_default_scope
        from mmseg.apis import init_model

        from ..visualize import save_grid
        init_default_scope('mmseg')
        seg_model = None if seg_ckpt is None else init_model(
            seg_cfg, seg_ckpt, device=self.device)
        ids = self.split_ids(self.p['eval_split'])[:self.args.figure_rows]
        grid = [
            self.figure_row(i, cam_out, seam_out, pseudo_dir, seg_model)
            for i in ids
        ]
        return save_grid(
            grid,
            osp.join(self.work, 'figure.png'),
            col_titles=[
                'image', 'ground truth', 'CAM baseline', 'SEAM CAM',
                'pseudo label', 'stage 2'
            ][:len(grid[0])],
            row_titles=ids)

    def figure_row(self, img_id: str, cam_out: str, seam_out: str,
                   pseudo_dir: str, seg_model=None) -> list:
        """The figure's images of one image id."""
        import numpy as np
        from mmseg.apis import inference_model

        from ..cam_io import load_cam, load_label_png
        from ..visualize import cam_heatmap, colorize_label, load_rgb
        palette = self.metainfo().get('palette')
        img_path = osp.join(self.data_root, 'JPEGImages', f'{img_id}.jpg')
        img = load_rgb(img_path)
        gt = load_label_png(
            osp.join(self.data_root, 'SegmentationClass', f'{img_id}.png'))
        cams, _ = load_cam(osp.join(seam_out, 'cams', f'{img_id}.npz'))
        pseudo = load_label_png(osp.join(pseudo_dir, f'{img_id}.png'))
        cams_base, _ = load_cam(osp.join(cam_out, 'cams', f'{img_id}.npz'))
        row = [
            img,
            colorize_label(gt, palette),
            cam_heatmap(img, cams_base),
            cam_heatmap(img, cams),
            colorize_label(pseudo, palette)
        ]
        if seg_model is not None:
            pred = inference_model(seg_model, img_path)
            row.append(
                colorize_label(
                    pred.pred_sem_seg.data[0].cpu().numpy().astype(np.uint8),
                    palette))
        return row
