#!/usr/bin/env python3
"""The README's embedding instructions, followed by a newcomer: a package of its own (the README's Package.swift
block, depending on this checkout by path) whose main.swift is the README's example, built with `swift build`
and run. It must build without a change and run to its end: a node started, a session created, the client's
cookies written and read back, a Codable cart updated, the node shut down.

The package lives in Tests/Compatibility/Minimal (a unit test checks it is the README's text); it is copied
next to a `SessionCluster` link to this checkout, as the README's `path: "../SessionCluster"` expects. Its build
directory is kept in .build-compat/minimal so a second run is incremental."""
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster import check, main, say  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
BUILD_SECONDS = 900
RUN_SECONDS = 60


def tail(path, lines=30):
    with open(path, errors="replace") as f:
        return "".join(f.readlines()[-lines:])


def scenario():
    work = tempfile.mkdtemp(prefix="readme-package-")
    try:
        os.symlink(ROOT, os.path.join(work, "SessionCluster"))
        shop = os.path.join(work, "shop")
        shutil.copytree(os.path.join(ROOT, "Tests", "Compatibility", "Minimal"), shop,
                        ignore=shutil.ignore_patterns(".build", "Package.resolved"))
        scratch = os.path.join(ROOT, ".build-compat", "minimal")
        log = os.path.join(work, "build.log")
        started = time.time()
        with open(log, "w") as out:
            built = subprocess.run(["swift", "build", "--scratch-path", scratch], cwd=shop, stdout=out,
                                   stderr=subprocess.STDOUT, timeout=BUILD_SECONDS)
        build_seconds = time.time() - started
        check(built.returncode == 0, "the README's package does not build:\n" + tail(log))
        say("built the README's package in %.0f s" % build_seconds)

        binary = os.path.join(scratch, "debug", "shop")
        started = time.time()
        ran = subprocess.run([binary], cwd=shop, capture_output=True, text=True, timeout=RUN_SECONDS)
        run_seconds = time.time() - started
        output = ran.stdout + ran.stderr
        check(ran.returncode == 0, "the README's example exited %d:\n%s" % (ran.returncode, output[-3000:]))
        check("alice has a cart; the client's next token is " in output,
              "the README's example did not get to its last line:\n" + output[-3000:])
        check("SESSIONID=" in output and "HttpOnly" in output, "no Set-Cookie values printed:\n" + output[-3000:])
        say("ran it in %.1f s: %s" % (run_seconds, [line for line in output.splitlines() if "has a cart" in line][0]))
    finally:
        shutil.rmtree(work, ignore_errors=True)


main(scenario)
