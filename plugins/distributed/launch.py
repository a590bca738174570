"""`ember launch -n N script.py [args]`: run a script as N processes of one MPI job.

It calls the mpiexec that the `distributed` extra installs beside Python (the
`mpich` wheel), so no system MPI is needed; for several machines, give the
hosts (`--hosts a,b` or `--hostfile F`) as mpiexec takes them.
"""

import os
import shutil
import subprocess
import sys


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
        parser.add_argument("script", help="the Python script every process runs")
        parser.add_argument("script_args", nargs="*", help="arguments for the script (after --)")

    def run(self, args):
        mpiexec = find_mpiexec()
        if mpiexec is None:
            print("ember launch: no mpiexec found; pip install 'ember[distributed]' "
                  "(the mpich wheel brings one)", file=sys.stderr)
            return 2
        if args.nproc < 1:
            print(f"ember launch: -n must be at least 1, got {args.nproc}", file=sys.stderr)
            return 2
        command = [mpiexec, "-n", str(args.nproc)]
        if args.hosts:
            command += ["-hosts", args.hosts]
        if args.hostfile:
            command += ["-f", args.hostfile]
        command += [sys.executable, args.script, *args.script_args]
        return subprocess.call(command)
