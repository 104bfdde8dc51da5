"""Run by tests/test_distributed.py under mpiexec: try init_process_group(BACKEND), print what happened as JSON.

usage: init_backend.py BACKEND
"""
import json
import sys

import minidl.distributed as dist


def main(backend):
    try:
        dist.init_process_group(backend)
    except Exception as err:  # noqa: BLE001 - the test reads the type and message
        print(json.dumps({"error": [type(err).__name__, str(err)]}))
        return
    print(json.dumps({"error": None, "backend": dist.get_backend(), "rank": dist.get_rank(),
                      "world_size": dist.get_world_size()}))
    dist.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1])
