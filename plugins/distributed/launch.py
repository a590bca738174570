"""`ember launch -n N script.py [args]`: run a script as N processes of one MPI job
(`ember launch -n N ember train cfg.toml --distributed` runs the CLI itself).

It calls the mpiexec that the `distributed` extra installs beside Python (the
`mpich` wheel), so no system MPI is needed; for several machines, give the
hosts (`--hosts a,b` or `--hostfile F`) as mpiexec takes them.
"""

import argparse
import os
import shutil
import subprocess
import sys


def launch_env(nproc):
    """The environment for N processes on this machine: BLAS and OpenMP threads split
    between them (unless set), so ranks do not oversubscribe the cores."""
    env = dict(os.environ)
    share = str(max(1, (os.cpu_count() or 1) // nproc))
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env.setdefault(name, share)
    return env


def find_mpiexec():
    """The mpiexec next to this Python (a venv with ember[distributed]), else on PATH."""
    beside = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    return beside if os.access(beside, os.X_OK) else shutil.which("mpiexec")


class LaunchCommand:
    help = "run a Python script as N processes of one MPI job (data-parallel training)"

    def add_arguments(self, parser):
        parser.add_argument("-n", "--nproc", type=int, default=2, help="number of processes")
        parser.add_argument("--hosts", help="comma-separated host names (several machines)")
        parser.add_argument("--hostfile", help="a file of host names, as mpiexec takes it")
        parser.add_argument("script", help="the Python script every process runs, or `ember`")
        parser.add_argument("script_args", nargs=argparse.REMAINDER, help="its arguments")

    def run(self, args):
        mpiexec = find_mpiexec()
        if mpiexec is None:
            print("ember launch: no mpiexec found; pip install 'ember[distributed]' "
                  "(the mpich wheel brings one)", file=sys.stderr)
            return 2
        if args.nproc < 1:
            print(f"ember launch: -n must be at least 1, got {args.nproc}", file=sys.stderr)
            return 2
        if args.script != "ember" and not os.path.isfile(args.script):   # once, not per rank
            print(f"ember launch: no such script {args.script!r}", file=sys.stderr)
            return 2
        command = [mpiexec, "-n", str(args.nproc)]
        if args.hosts:
            command += ["-hosts", args.hosts]
        if args.hostfile:
            command += ["-f", args.hostfile]
        program = ["-m", "ember.cli"] if args.script == "ember" else [args.script]
        command += [sys.executable, *program, *args.script_args]
        return subprocess.call(command, env=launch_env(args.nproc))
