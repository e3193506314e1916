# Copyright (c) mmseam contributors. All rights reserved.
"""tools/train.py names the config file when classes and palette differ."""
import os.path as osp
import subprocess
import sys

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
BASE = osp.join(REPO, 'configs', 'seam',
                'seam_tinyconvnet_1xb8-12e_synthvoc-224x224.py')


def test_palette_of_another_length_names_the_config(tmp_path):
    # the VOC class list over the synthetic base, whose palette has 6
    # colours: the error names both keys, both lengths and this file
    cfg = tmp_path / 'my_seam.py'
    cfg.write_text(
        f"_base_ = ['{BASE}']\n"
        "classes = ('background', ) + tuple(f'c{i}' for i in range(20))\n"
        'train_dataloader = dict(dataset=dict(metainfo=dict('
        'classes=classes)))\n')
    proc = subprocess.run(
        [sys.executable, osp.join(REPO, 'tools', 'train.py'),
         str(cfg), '--work-dir', str(tmp_path / 'work')],
        capture_output=True, text=True, cwd=str(tmp_path))
    assert proc.returncode != 0
    msg = proc.stderr
    assert 'metainfo.palette has 6 colours but metainfo.classes has 21 ' \
        f'classes (in {cfg}, train_dataloader.dataset)' in msg, msg[-2000:]
    assert '_delete_=True' in msg
    assert not osp.exists(tmp_path / 'work')  # stopped before anything ran
