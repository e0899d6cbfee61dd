"""The DirectRunner's SDK worker process (``tasks.max > 1``), importing Beam as lean as the launcher.

Beam starts each worker as ``python -m apache_beam.runners.worker.sdk_worker_main``;
:func:`pipelines.runners.batch_runner` starts ``python -m pipelines.sdk_worker`` instead, which imports
Beam without the cloud clients a local run never uses (:mod:`pipelines.beam_import`) and then runs
Beam's worker as it is, with the same arguments and environment.
"""

import sys

from pipelines.beam_import import lean_beam

if __name__ == "__main__":
    with lean_beam(()):
        from apache_beam.runners.worker import sdk_worker_main
    sdk_worker_main.main(sys.argv)
