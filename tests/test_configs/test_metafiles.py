# Copyright (c) mmseam contributors. All rights reserved.
"""model-index.yml and the metafiles of the config folders (read by OpenMIM
and by MMEngine's ``mmseam::`` lookup) list real configs, consistently."""
import glob
import os.path as osp
import re

import yaml

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
# {algorithm}_{backbone}_{N}xb{M}-{schedule}_{dataset}-{crop}.py
NAME = re.compile(r'^[a-z0-9-]+_[a-z0-9.-]+_\d+xb\d+-[a-z0-9-]+_'
                  r'[a-z0-9-]+-(\d+)x(\d+)$')


def load(path):
    with open(osp.join(REPO, path), encoding='utf-8') as f:
        return yaml.safe_load(f)


def metafiles():
    return load('model-index.yml')['Import']


def test_model_index_imports_every_metafile():
    found = sorted(
        osp.relpath(p, REPO) for p in glob.glob(
            osp.join(REPO, 'configs', '*', 'metafile.yml')))
    assert sorted(metafiles()) == found
    assert {osp.dirname(p) for p in found} >= {
        'configs/seam', 'configs/affinity', 'configs/deeplab'
    }


def test_models_name_existing_configs_with_their_metadata():
    names = set()
    for meta in metafiles():
        data = load(meta)
        folder = osp.dirname(meta)
        collections = {c['Name'] for c in data['Collections']}
        for c in data['Collections']:
            assert osp.isfile(osp.join(REPO, c['README'])), c['README']
            assert c['Paper']['URL'].startswith('https://arxiv.org/abs/')
        for m in data['Models']:
            name = m['Name']
            assert name not in names, f'{name} listed twice'
            names.add(name)
            assert m['Config'] == f'{folder}/{name}.py'
            assert osp.isfile(osp.join(REPO, m['Config'])), m['Config']
            assert m['In Collection'] in collections, name
            meta_keys = set(m['Metadata'])
            assert {'backbone', 'crop size', 'lr schd',
                    'Training Data'} <= meta_keys, name
            # the crop in the name is the one in the metadata
            h, w = NAME.match(name).groups()
            assert m['Metadata']['crop size'] == f'({h},{w})', name
            if 'Results' in m:
                res = m['Results']
                assert res['Task'] and res['Dataset'], name
                assert all(0 < v <= 100 for v in res['Metrics'].values())


def test_every_named_config_of_a_listed_folder_is_listed():
    listed = set()
    for meta in metafiles():
        listed |= {m['Config'] for m in load(meta)['Models']}
    for meta in metafiles():
        folder = osp.dirname(meta)
        for path in glob.glob(osp.join(REPO, folder, '*.py')):
            rel = osp.relpath(path, REPO)
            name = osp.splitext(osp.basename(path))[0]
            if NAME.match(name):
                assert rel in listed, f'{rel} is missing from {meta}'
