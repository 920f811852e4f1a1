"""Adds COUNT empty archives to a local borg 1.2 repository in one process and one commit.

`borg create` starts Python, locks the repository and commits once per archive, which takes
minutes for 1,000 archives. This script calls the same Archive.save() that `borg create`
ends with, so each archive is a real archive with its own metadata object and manifest
entry. It defers the repository and cache commits that save() makes to one at the end.
Usage: python3 make-archives.py REPOSITORY COUNT
"""
import sys

from borg.archive import Archive
from borg.cache import Cache
from borg.helpers import Manifest
from borg.logger import setup_logging
from borg.repository import Repository


def main(path, count):
    setup_logging(level='warning')
    with Repository(path, exclusive=True) as repository:
        manifest, key = Manifest.load(repository, (Manifest.Operation.WRITE,))
        with Cache(repository, key, manifest, lock_wait=60) as cache:
            commit_repository = repository.commit
            commit_cache = cache.commit
            repository.commit = lambda *args, **kwargs: None
            cache.commit = lambda: None
            for index in range(count):
                name = 'archive-%05d' % index
                archive = Archive(repository, key, manifest, name, cache=cache, create=True)
                archive.save(comment='bench archive %d' % index)
            commit_repository(compact=False)
            commit_cache()


if __name__ == '__main__':
    main(sys.argv[1], int(sys.argv[2]))
