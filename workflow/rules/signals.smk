# Stopping a run stops its jobs. Snakemake 9 answers SIGTERM by starting no new job and waiting for the running
# ones to finish (a training job: hours), and so does SIGINT sent to snakemake alone (`kill -INT <pid>`); only
# Ctrl-C, which the terminal sends to the whole process group, reaches the jobs themselves. Here both signals
# first terminate every process the run started, then Snakemake's own handler runs: the stopped jobs fail, their
# outputs are removed (or, after SIGINT, marked incomplete), the lock is released and snakemake exits (status 1)
# within seconds. A training job's next run resumes its checkpoint. Local execution only: a cluster executor
# cancels or waits for its jobs itself, and the processes it starts (sbatch, squeue) are not jobs.
import functools
import os
import signal
import threading

import psutil

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
KILL_AFTER_SECONDS = 30  # a job still alive this long after SIGTERM is SIGKILLed


def stop_jobs_with_snakemake():
    """Install the handlers (called by onstart: Snakemake's scheduler has installed its own by then, in the main
    thread, which is where handlers run)."""
    if not workflow.local_exec:
        return
    for signum in STOP_SIGNALS:
        signal.signal(
            signum, functools.partial(_stop_jobs, previous=signal.getsignal(signum))
        )


def _stop_jobs(signum, frame, previous):
    jobs = psutil.Process().children(recursive=True)
    for proc in jobs:
        try:
            proc.terminate()
        except psutil.Error:
            pass
    threading.Thread(target=_kill_survivors, args=(jobs,), daemon=True).start()
    if callable(previous):
        previous(signum, frame)
    elif previous == signal.SIG_DFL:
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)


def _kill_survivors(jobs):
    _, alive = psutil.wait_procs(jobs, timeout=KILL_AFTER_SECONDS)
    for proc in alive:
        try:
            proc.kill()
        except psutil.Error:
            pass
