# Copyright (c) mmseam contributors. All rights reserved.
"""tools/benchmark.py ``--what pseudo`` on mixed sizes (``--size-cycle``,
``--bucket-by-size``, ``--no-crf``) and the stage profiler
``tools/benchmarking/stages.py``."""
import json
import os.path as osp

import numpy as np
import pytest
from mmengine.registry import init_default_scope
from PIL import Image

import mmseam  # noqa: F401
import mmseam.apis
from tools.benchmarking import cli, stages

init_default_scope('mmseg')

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TINY_CFG = osp.join(REPO, 'configs', 'seam',
                    'seam_tinyconvnet_1xb8-12e_synthvoc-224x224.py')


def test_pseudo_mixed_sizes_bucketed_without_crf(capsys, monkeypatch):
    calls = []
    real = mmseam.apis.infer_cams

    def spy(model, dataset, out_dir, **kwargs):
        sizes = [
            Image.open(dataset.get_data_info(i)['img_path']).size[::-1]
            for i in range(len(dataset))
        ]
        calls.append((sizes, kwargs))
        return real(model, dataset, out_dir, **kwargs)

    monkeypatch.setattr(mmseam.apis, 'infer_cams', spy)
    recs = cli.main([
        TINY_CFG, '--what', 'pseudo', '--img-size', '48', '32',
        '--size-cycle', '3', '--bucket-by-size', '--no-crf', '--scales',
        '1.0', '--num-images', '5', '--iters', '1', '--warmup', '0',
        '--device', 'cpu'
    ])
    out = capsys.readouterr().out
    assert [json.loads(line) for line in out.splitlines()] == recs
    (rec, ) = recs
    assert rec['crf'] is False and rec['bucket_by_size'] is True
    assert rec['size_cycle'] == 3 and rec['num_images'] == 5
    # warm-up: one image of each size; then the split, sizes in turn
    (warm_sizes, warm_kw), (sizes, kw) = calls
    assert warm_sizes == [(48, 32), (32, 32), (16, 32)]
    assert sizes == [(48, 32), (32, 32), (16, 32), (48, 32), (32, 32)]
    assert warm_kw['bucket_by_size'] is True
    assert kw['bucket_by_size'] is True and kw.get('crf') is None


def test_stage_profiler_records(tmp_path, capsys):
    res = stages.main([
        TINY_CFG, '--num-images', '2', '--img-size', '24', '32',
        '--repeats', '2', '--threads', '1', '--work-dir',
        str(tmp_path)
    ])
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [x.get('repeat') for x in lines[:2]] == [0, 1]
    assert lines[-1] == json.loads(json.dumps(res))
    med = res['median_s']
    for name in ('decode', 'network', 'resize', 'cam_npz_write',
                 'crf_kernels', 'crf_4_meanfield', 'crf_24_meanfield',
                 'crf_npz_write', 'crf_png_write', 'crf_separate'):
        assert med[name] > 0, name
    assert sum(res['share'].values()) == pytest.approx(1.0)
    assert res['img_per_s'] == pytest.approx(1 / res['total_s'])
    for name, values in zip(med, zip(*[x['sec_per_image'].values()
                                       for x in lines[:2]])):
        assert med[name] == pytest.approx(np.median(values))
    # the outputs are those of the CRF tool: labels of the present classes
    assert osp.isfile(
        osp.join(str(tmp_path), 'out', 'crf', 'crf_24_png', 'img_00001.png'))
