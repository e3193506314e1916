# Copyright (c) mmseam contributors. All rights reserved.
"""The documents cite paths that exist and speak of the project only.

Two checks over the project's text:

* every repository path a document cites (in backticks or as a Markdown
  link target) and that starts with ``docs/``, ``configs/``, ``tools/``,
  ``mmseam/``, ``tests/`` or ``demo/`` exists. ``{a,b}`` braces are
  expanded; a path with ``*`` or ``?`` must match at least one file; a path
  with a ``<placeholder>``, ``$VARIABLE`` or ``...`` is skipped (it names
  no single file). Scanned: README.md, docs/*.md, configs/**/README.md.
* no text of the project carries development-history markers (see
  ``HISTORY_PATTERNS``). Citations of the upstream SEAM repository's
  issue threads (``SEAM issue #21``) are allowed in docs/method.md only,
  the project's account of the official recipe.
"""
import glob
import os.path as osp
import re

import pytest

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
PATH_ROOTS = ('docs/', 'configs/', 'tools/', 'mmseam/', 'tests/', 'demo/')

#: Backticked spans and Markdown link targets.
_SPAN = re.compile(r'`([^`\n]+)`|\]\(([^)\s]+)\)')
_PATH = re.compile(r'(?<![\w./-])((?:%s)[\w./{},*?<>-]*)' %
                   '|'.join(re.escape(r) for r in PATH_ROOTS))

HISTORY_PATTERNS = {
    'session': re.compile(r'\bsessions?\b', re.IGNORECASE),
    'working branch': re.compile(r'wip/'),
    'experiment folder': re.compile(r'experiments/issue'),
    'issue number': re.compile(r'\bissue #?\d+', re.IGNORECASE),
    'run number': re.compile(r'\brun \d+\b', re.IGNORECASE),
    'spec citation': re.compile(r'spec 1\.', re.IGNORECASE),
}
#: pytest's fixture scope is the one legitimate use of the word.
_PYTEST_SCOPE = re.compile(r'''scope=['"]session['"]''')
#: An upstream issue thread of the official SEAM repository.
_UPSTREAM_ISSUE = re.compile(r'SEAM issues? #\d+(?:[, ]+(?:and )?#\d+)*')
UPSTREAM_ALLOWED = ('docs/method.md', )

HISTORY_DIRS = ('docs', 'configs', 'mmseam', 'tools', 'tests', 'demo')
HISTORY_EXTS = ('.md', '.py', '.sh', '.yml', '.yaml', '.txt', '.cfg')
THIS_FILE = 'tests/test_docs.py'


def _rel(path):
    return osp.relpath(path, REPO).replace(osp.sep, '/')


def doc_files():
    """README.md, docs/*.md and configs/**/README.md, repo-relative."""
    files = ['README.md'] + sorted(
        glob.glob(osp.join(REPO, 'docs', '*.md'))) + sorted(
            glob.glob(osp.join(REPO, 'configs', '**', 'README.md'),
                      recursive=True))
    return [_rel(f) if osp.isabs(f) else f for f in files]


def expand_braces(text):
    """``a/{b,c}/d`` -> ``['a/b/d', 'a/c/d']`` (nested braces too)."""
    match = re.search(r'\{([^{}]*)\}', text)
    if match is None:
        return [text]
    out = []
    for alt in match.group(1).split(','):
        out += expand_braces(text[:match.start()] + alt +
                             text[match.end():])
    return out


def cited_paths(text):
    """Repository paths cited in backticks or links of a Markdown text."""
    paths = []
    for code, link in _SPAN.findall(text):
        span = code or link
        for match in _PATH.finditer(span):
            path = match.group(1).split('::')[0].split('#')[0]
            path = path.rstrip('.,:;)')
            paths.append(path)
    return paths


def path_exists(path):
    """Whether a cited path (braces, globs allowed) names existing files.

    Returns None for a path that names no single file (placeholder).
    """
    if '<' in path or '>' in path or '$' in path or '...' in path:
        return None
    for one in expand_braces(path):
        full = osp.join(REPO, one)
        if any(c in one for c in '*?'):
            if not glob.glob(full, recursive=True):
                return False
        elif not osp.exists(full):
            return False
    return True


def test_helpers():
    assert expand_braces('configs/seam/{a,b}_x.py') == [
        'configs/seam/a_x.py', 'configs/seam/b_x.py']
    assert cited_paths('see `tools/train.py CONFIG` and '
                       '[m](docs/method.md#losses), `mmseam/a.py::f`.') == [
        'tools/train.py', 'docs/method.md', 'mmseam/a.py']
    assert path_exists('tools/train.py')
    assert path_exists('configs/seam/*_synthvoc-*.py')
    assert path_exists('tools/{train,test}.py')
    assert not path_exists('tools/{train,nothere}.py')
    assert path_exists('docs/<name>.md') is None
    hits = history_hits('sessions 3; fixture(scope="session"); '
                        'run 5 and issue #4\n')
    assert [h[0] for h in hits] == ['session', 'issue number', 'run number']
    assert history_hits('SEAM issue #21', allow_upstream=True) == []
    assert history_hits('SEAM issue #21') != []


@pytest.mark.parametrize('doc', doc_files())
def test_cited_paths_exist(doc):
    with open(osp.join(REPO, doc), encoding='utf-8') as f:
        text = f.read()
    missing = sorted({p for p in cited_paths(text) if path_exists(p) is False})
    assert not missing, (
        f'{doc} cites paths that do not exist in the repository: {missing}. '
        'Fix the path or drop the citation.')


def history_hits(text, allow_upstream=False):
    """(marker, line number, line) of every history marker in ``text``."""
    hits = []
    for num, line in enumerate(text.splitlines(), 1):
        line = _PYTEST_SCOPE.sub('', line)
        if allow_upstream:
            line = _UPSTREAM_ISSUE.sub('', line)
        for name, pattern in HISTORY_PATTERNS.items():
            if pattern.search(line):
                hits.append((name, num, line.strip()))
    return hits


def project_text_files():
    files = ['README.md', 'Makefile', 'setup.py']
    for top in HISTORY_DIRS:
        for path in glob.glob(osp.join(REPO, top, '**', '*'), recursive=True):
            rel = _rel(path)
            if (rel.endswith(HISTORY_EXTS) and osp.isfile(path)
                    and rel != THIS_FILE and '/.mim/' not in rel
                    and '__pycache__' not in rel):
                files.append(rel)
    return sorted(files)


def test_no_development_history():
    found = []
    for rel in project_text_files():
        with open(osp.join(REPO, rel), encoding='utf-8',
                  errors='replace') as f:
            text = f.read()
        for name, num, line in history_hits(
                text, allow_upstream=rel in UPSTREAM_ALLOWED):
            found.append(f'{rel}:{num}: {name}: {line[:100]}')
    assert not found, (
        'The project speaks of the project only (history lives in git '
        'log); reword these lines as current findings:\n' +
        '\n'.join(found))
