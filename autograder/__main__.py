"""``python -m autograder <command>``: build, release, grade."""
from __future__ import annotations

import argparse
import sys


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="templates + solutions -> instructor notebooks and check fixtures")
    b.add_argument("assignments", nargs="*")
    r = sub.add_parser("release", help="build, then nbgrader generate_assignment, then copy into course/")
    r.add_argument("assignments", nargs="*")
    g = sub.add_parser("grade", help="collect, autograde (sandboxed, parallel), feedback and export one assignment")
    from autograder.grading import command as grade_command
    grade_command.add_arguments(g)
    args = parser.parse_args(argv)
    if args.command == "grade":
        from coursekit.registry import get
        try:
            args.assignment = get(args.assignment).folder   # a short name ("ddpm") or a folder ("02_ddpm")
        except KeyError as exc:
            if not (args.root / "source" / args.assignment).is_dir():  # a course root's own assignment
                parser.error(str(exc).strip("'\""))
        return grade_command.main(args)
    from autograder import build as build_mod  # grading needs neither the build nor solutions/
    from autograder import release as release_mod
    from coursekit.registry import get
    try:  # short names ("ddpm") or folders ("02_ddpm")
        names = [get(name).folder for name in args.assignments] or build_mod.assignments()
    except KeyError as exc:
        parser.error(str(exc).strip("'\""))
    for name in names:
        for path in build_mod.build(name):
            print(f"built {path}")
        if args.command == "release":
            for path in release_mod.release(name):
                print(f"released {path}")
    if args.command == "release":
        from autograder import start_page
        print(f"wrote {start_page.write()}")  # course/START.md: the course map (autograder/start_page.py)
    return 0


if __name__ == "__main__":
    sys.exit(main())
