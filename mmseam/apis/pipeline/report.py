# Copyright (c) mmseam contributors. All rights reserved.
"""The run's report: a results table (``results.md``) and a figure
(``figure.png``: image | ground truth | CAMs | pseudo label | stage 2)."""
import os.path as osp
from typing import List, Optional, Sequence, Tuple

from ..cam_io import atomic_write
from .common import log

Row = Tuple[str, Optional[float], str, str]

#: The table's note when the label split has no masks.
UNSCORED_NOTE = (
    'No masks for the scored images: the pseudo labels are not scored '
    '(n/a), and the background threshold is the SEAM config\'s '
    '`bg_threshold` (`model.test_cfg`), not a sweep\'s best.')


def _from_config(entry: dict) -> bool:
    return entry.get('threshold_from') == 'config'


def _threshold_note(entry: dict) -> str:
    return f'bg thr {entry["bg_threshold"]:.2f}' + (
        ' (config)' if _from_config(entry) else '')


def _cam_step(what: str, entry: dict) -> str:
    which = 'config' if _from_config(entry) else 'best'
    return f'{what}, {which} bg threshold)'


def result_rows(r: dict, split: str) -> List[Row]:
    """``(step, mIoU or None, images, note)`` rows of the steps in ``r``
    (the ``results`` of ``results.json``)."""
    rows = []
    if 'cam_cam' in r:
        rows.append((_cam_step('CAM baseline (multi-scale CAM',
                               r['cam_cam']), r['cam_cam']['mIoU'], split,
                     _threshold_note(r['cam_cam'])))
    rows += [
        (_cam_step('SEAM (PCM output', r['seam_cam']),
         r['seam_cam']['mIoU'], split, _threshold_note(r['seam_cam'])),
        ('SEAM + dense CRF', r['seam_crf']['mIoU'], split,
         f'alpha {r["seam_crf"]["alpha"]}'),
    ]
    if 'seam_rw' in r:
        rows.append(('SEAM + AffinityNet random walk', r['seam_rw']['mIoU'],
                     split, f'alpha {r["seam_rw"].get("alpha", 6)}, beta 8, '
                     'logt 6'))
    if 'stage2_val' in r:
        choice, s2 = r.get('stage2_labels'), r['stage2_val']
        notes = []
        if choice is not None:
            which = 'random-walk' if choice['source'] == 'rw' else 'CRF'
            notes.append(
                f'trained on the {which} labels (the random walk keeps '
                f'{choice["seed_agreement"]:.3f} of the confident CRF '
                f'pixels, {choice["min_agreement"]} needed)')
        if s2.get('test') == 'tta' and s2['mIoU'] is not None:
            notes.append('tested with the config\'s test-time views and '
                         f'CRF (one view: {s2["mIoU_single_scale"]:.2f})')
        note = '; '.join(notes)
        rows.append(('Stage 2: DeepLab-v1 LargeFOV on the pseudo labels',
                     r['stage2_val']['mIoU'], 'val (held out)', note))
    return rows


def timing_line(seconds: dict) -> str:
    """The steps' wall times, e.g. ``step times (s): train_pretrain 579,
    crf 34, total 2551 (42.5 min)``, from ``results.json``'s ``seconds``."""
    parts = [f'{k} {v:.0f}' for k, v in seconds.items() if k != 'total']
    line = 'step times (s): ' + ', '.join(parts)
    if 'total' in seconds:
        line += (f'{", " if parts else ""}total {seconds["total"]:.0f} '
                 f'({seconds["total"] / 60:.1f} min)')
    return line


def markdown_table(rows: Sequence[Row]) -> str:
    """A markdown table of ``(step, mIoU, images, note)`` rows (n/a for a
    step without a score)."""
    lines = ['| step | mIoU (%) | images | note |', '|---|---|---|---|']
    lines += [
        f'| {a} | {"n/a" if b is None else f"{b:.2f}"} | {c} | {d} |'
        for a, b, c, d in rows
    ]
    return '\n'.join(lines)


class ReportStep:
    """Mixin of :class:`Pipeline`: the table and the figure."""

    def report(self, cam_dirs: dict, pseudo_dir: str, seg_cfg=None,
               seg_ckpt: Optional[str] = None) -> None:
        """Print and write ``results.md``, draw ``figure.png``.

        Args:
            cam_dirs (dict): ``{'cam': folder, 'seam': folder}`` of the CAM
                inference outputs (``cam`` only with a CAM baseline).
            pseudo_dir (str): The final pseudo labels.
            seg_cfg (Config, optional): The stage-2 config.
            seg_ckpt (str, optional): The stage-2 checkpoint.
        """
        r = dict(self.results)
        if seg_ckpt is None:
            r.pop('stage2_val', None)
        if 'cam' not in cam_dirs:
            r.pop('cam_cam', None)
        table = markdown_table(
            result_rows(r, self.split_title(self.eval_split)))
        if not self.scored:
            table += '\n\n' + UNSCORED_NOTE + ' Classes: ' + ', '.join(
                self.metainfo()['classes']) + '.'
        print('\n' + table + '\n', flush=True)
        if self.timings:
            print(timing_line(self.timings) + '\n', flush=True)
        md = osp.join(self.work, 'results.md')
        atomic_write(md, lambda f: f.write((table + '\n').encode()))
        fig = self.figure(cam_dirs, pseudo_dir, seg_cfg, seg_ckpt)
        log(f'results: {md}, {self.results_path}; figure: {fig}')

    def figure(self, cam_dirs: dict, pseudo_dir: str, seg_cfg=None,
               seg_ckpt: Optional[str] = None) -> str:
        """image | GT (with masks) | CAM baseline (when trained) | SEAM CAM
        | pseudo label | stage-2 prediction (when stage 2 ran) for the
        first ``--figure-rows`` images of the scored split; returns the
        figure's path."""
        from mmengine.registry import init_default_scope
        from mmseg.apis import init_model

        from ..visualize import save_grid
        init_default_scope('mmseg')
        seg_model = None if seg_ckpt is None else init_model(
            seg_cfg, seg_ckpt, device=self.device)
        ids = self.split_ids(self.eval_split)[:self.args.figure_rows]
        grid = [self.figure_row(i, cam_dirs, pseudo_dir, seg_model)
                for i in ids]
        titles = ['image'] + ['ground truth'] * self.scored + [
            'CAM baseline'
        ] * ('cam' in cam_dirs) + ['SEAM CAM', 'pseudo label'] + [
            'stage 2'
        ] * (seg_model is not None)
        return save_grid(
            grid,
            osp.join(self.work, 'figure.png'),
            col_titles=titles,
            row_titles=ids)

    def figure_row(self, img_id: str, cam_dirs: dict, pseudo_dir: str,
                   seg_model=None) -> list:
        """The figure's images of one image id."""
        import numpy as np
        from mmseg.apis import inference_model

        from ..cam_io import load_cam, load_label_png
        from ..visualize import cam_heatmap, colorize_label, load_rgb
        palette = self.metainfo().get('palette')
        img_path = self.image_files(self.eval_split)[img_id]
        img = load_rgb(img_path)
        row = [img]
        if self.scored:
            gt = load_label_png(
                osp.join(self.mask_dir(self.eval_split), f'{img_id}.png'))
            row.append(colorize_label(gt, palette))
        for name in ('cam', 'seam'):
            if name in cam_dirs:
                cams, _ = load_cam(
                    osp.join(cam_dirs[name], 'cams', f'{img_id}.npz'))
                row.append(cam_heatmap(img, cams))
        pseudo = load_label_png(osp.join(pseudo_dir, f'{img_id}.png'))
        row.append(colorize_label(pseudo, palette))
        if seg_model is not None:
            pred = inference_model(seg_model, img_path)
            row.append(
                colorize_label(
                    pred.pred_sem_seg.data[0].cpu().numpy().astype(np.uint8),
                    palette))
        return row
