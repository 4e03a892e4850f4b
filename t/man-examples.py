#!/usr/bin/env python3
"""man-examples.py: run the EXAMPLES of man pages, as jq runs its manual.

usage: man-examples.py WORKDIR PAGE...

Prints one TAP line per display ("ok - ...", "not ok - ..." with "#"
diagnostics, "ok - ... # SKIP why"), for t/0320 to number.

The convention, in the EXAMPLES section of an mdoc page:

  A display (.Bd -literal ... .Ed, or .Dl) whose first line starts with "$ "
  is a transcript: each "$ " line is a command for sh(1) (a line ending in
  a backslash, written \\e, or in "|" goes on), and the lines after it, up
  to the next "$ " line, are what it must print on stdout, exactly; a line
  "..." (written \\&... in mdoc) stands for any number of lines, "..."
  within a line for any text,
  and an output line ending in a backslash is folded for the page: it goes
  on with the next one. Every command must exit 0. A
  command ending in " &" keeps running in the background (its output is
  not compared) until the page is done.

  Every other display must be named by a directive: the reader sees none of
  them, they are mdoc comments.
    .\\" test: file NAME       the next display is the content of file NAME
                               (substitutions applied, variables expanded)
    .\\" test: skip REASON     the next display is not run (says why)
  Other directives:
    .\\" test: sub TEXT => REPLACEMENT
        from here on, TEXT in commands and in their output becomes
        REPLACEMENT (where a server, a secret or a state directory is:
        $VCSIM_URL, $RECEIVER_URL, ...; variables are expanded)
    .\\" test: sh COMMAND       run before the next display, must exit 0
                               (ending in " &": runs beside it instead)
    .\\" test: check COMMAND    run after the display before it, must exit 0
    .\\" test: ready COMMAND    after each command of the next display that
                               runs in the background: retried until it
                               exits 0 (60 s at most)
    .\\" test: until COMMAND    the next display's commands, which run until
                               stopped, are stopped (SIGTERM) once COMMAND
                               succeeds (polled; 60 s at most, then they
                               fail); their output is still compared, their
                               exit status is not

Commands run in WORKDIR/PAGE (one directory per page, shared by its
displays) with the environment of this script; "waitport PORT" (in PATH)
waits for a listener.

Every process an example starts ends with its page, on every way out of
this script (the page done, an exception, SIGTERM, SIGINT, SIGHUP): each
command runs in a process group of its own, and this script is the
subreaper of what they start, so a process that left its group
(vcpipe-group makes one per pipeline) or whose parent ended is still its
descendant; every descendant gets SIGTERM, then SIGKILL after 10 s.
(Only SIGKILL of this script escapes that.)
"""
import ctypes
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

TIMEOUT = 120
GRACE = 10


class Stopped(BaseException):
    """A stop signal: unwinds through every finally, like KeyboardInterrupt."""


def on_signal(signum, frame):
    raise Stopped(signum)


def subreaper():
    """Orphaned descendants become our children (Linux prctl)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)	# PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        pass


def descendants():
    """{pid: parent pid} of every process below this one."""
    parent = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                # "PID (COMM) STATE PPID ...": COMM may hold ")"
                parent[int(d)] = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            pass
    below, todo = {}, [os.getpid()]
    while todo:
        p = todo.pop()
        for c, pp in parent.items():
            if pp == p and c not in below:
                below[c] = pp
                todo.append(c)
    return below


class Reaper:
    """Ends what this script started: its descendants (all of them, being
    their subreaper) and the process groups of its running children."""

    def __init__(self):
        self.procs = []

    def track(self, p):
        self.procs = [q for q in self.procs if q.poll() is None] + [p]
        return p

    def signal_all(self, sig):
        for p in self.procs:
            if p.poll() is None:	# not reaped: the group is still ours
                try:
                    os.killpg(p.pid, sig)
                except (ProcessLookupError, PermissionError):
                    pass
        for pid in descendants():
            try:
                os.kill(pid, sig)
            except (ProcessLookupError, PermissionError):
                pass

    def gone(self):
        """Reaps what ended; True once no descendant is left."""
        self.procs = [p for p in self.procs if p.poll() is None]
        mine = {p.pid for p in self.procs}
        for pid, pp in descendants().items():
            if pp == os.getpid() and pid not in mine:
                try:	# an orphan that came to us
                    os.waitpid(pid, os.WNOHANG)
                except ChildProcessError:
                    pass
        return not descendants()

    def end_all(self):
        """SIGTERM to everything, SIGKILL to what is left after GRACE s."""
        for sig in (signal.SIGTERM, signal.SIGKILL):
            if self.gone():
                break
            self.signal_all(sig)
            end = time.time() + GRACE
            while not self.gone() and time.time() < end:
                time.sleep(0.05)


REAPER = Reaper()


def unescape(s):
    """mdoc text to what a reader sees (the escapes the pages use)."""
    for a, b in (("\\(aq", "'"), ("\\(dq", '"'), ("\\(ga", "`"),
                 ("\\(ti", "~"), ("\\(ha", "^"), ("\\-", "-"), ("\\&", ""),
                 ("\\e", "\\")):
        s = s.replace(a, b)
    return s


def examples(path):
    """The EXAMPLES section as (lineno, text) pairs."""
    out, inside = [], False
    for n, l in enumerate(open(path, encoding="utf-8"), 1):
        l = l.rstrip("\n")
        if l.startswith(".Sh "):
            inside = l.strip() == ".Sh EXAMPLES"
            continue
        if inside:
            out.append((n, l))
    return out


def parse(path):
    """Items: ("directive", n, kind, arg) and ("display", n, [lines])."""
    items, disp = [], None
    for n, l in examples(path):
        if disp is not None:
            if l.startswith(".Ed"):
                items.append(("display", disp[0], disp[1]))
                disp = None
            elif l.startswith('.\\"'):
                continue
            elif l.startswith(".") and not l.startswith("\\&."):
                items.append(("error", n, "macro %r inside a display" % l))
            else:
                disp[1].append(unescape(l))
            continue
        m = re.match(r'^\.\\" test: (\w+)(?: (.*))?$', l)
        if m:
            items.append(("directive", n, m.group(1), m.group(2) or ""))
        elif l.startswith(".Bd ") and "-literal" in l:
            disp = (n, [])
        elif l.startswith(".Bd"):
            items.append(("error", n, "a display that is not -literal"))
        elif l.startswith(".Dl "):
            items.append(("display", n, [unescape(l[4:])]))
    if disp is not None:
        items.append(("error", disp[0], "display without .Ed"))
    return items


def transcript(lines):
    """[(command, [expected lines])] or None when it is no transcript."""
    if not lines or not lines[0].startswith("$ "):
        return None
    cmds, i = [], 0
    while i < len(lines):
        cmd = lines[i][2:]
        while (cmd.endswith("\\") or cmd.rstrip().endswith("|")) and i + 1 < len(lines):
            i += 1
            cmd += "\n" + lines[i]
        i += 1
        want = []
        while i < len(lines) and not lines[i].startswith("$ "):
            if want and want[-1].endswith("\\") and want[-1] != "...":
                want[-1] = want[-1][:-1] + lines[i]
            else:
                want.append(lines[i])
            i += 1
        cmds.append((cmd, want))
    return cmds


def matches(want, got):
    """want's lines against got's; "..." matches any run of lines."""
    if not want:
        return not got
    if want[0] == "...":
        return any(matches(want[1:], got[k:]) for k in range(len(got) + 1))
    return bool(got) and line_matches(want[0], got[0]) and matches(want[1:], got[1:])


def line_matches(want, got):
    if "..." not in want:
        return want == got
    return re.fullmatch(".*".join(map(re.escape, want.split("..."))), got) is not None


class Page:
    def __init__(self, path, workdir):
        self.path = path
        self.name = os.path.basename(path)
        self.dir = os.path.join(workdir, self.name)
        os.makedirs(self.dir, exist_ok=True)
        self.subs = []
        self.background = []
        self.n = 0

    def expand(self, cmd):
        for a, b in self.subs:
            cmd = cmd.replace(a, b)
        return cmd

    def expand_output(self, lines):
        """What the page shows, in the test's world: a substitution's
        variables are expanded here, as sh expands them in commands."""
        out = []
        for l in lines:
            for a, b in self.subs:
                l = l.replace(a, os.path.expandvars(b))
            out.append(l)
        return out

    def run(self, cmd, timeout=TIMEOUT, until=None):
        """(exit status or "stopped", stdout, stderr). With until, the
        command is stopped once that command succeeds."""
        outf, errf = tempfile.TemporaryFile(), tempfile.TemporaryFile()
        p = REAPER.track(subprocess.Popen(["sh", "-c", cmd], cwd=self.dir,
                                          stdin=subprocess.DEVNULL, stdout=outf,
                                          stderr=errf, start_new_session=True))
        end = time.time() + (60 if until else timeout)
        rc = None
        while rc is None:
            try:
                rc = p.wait(timeout=0.2)
                break
            except subprocess.TimeoutExpired:
                pass
            if until and self.run(until, timeout=10)[0] == 0:
                rc = "stopped"
            elif time.time() > end:
                rc = ("never stopped: %r did not succeed" % until if until
                      else "timed out after %d s" % timeout)
        if p.returncode is None:
            os.killpg(p.pid, signal.SIGTERM)
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        texts = []
        for f in (outf, errf):
            f.seek(0)
            texts.append(f.read().decode("utf-8", "replace"))
            f.close()
        return rc, texts[0], texts[1]

    def start(self, cmd):
        log = open(os.path.join(self.dir, ".bg%d.log" % len(self.background)), "w")
        p = REAPER.track(subprocess.Popen(["sh", "-c", cmd], cwd=self.dir,
                                          stdin=subprocess.DEVNULL, stdout=log,
                                          stderr=log, start_new_session=True))
        self.background.append(p)

    def ready(self, cmd, seconds=60):
        end = time.time() + seconds
        while time.time() < end:
            if self.run(cmd, timeout=10)[0] == 0:
                return True
            time.sleep(0.2)
        return False

    def bglog(self):
        """What the background commands said so far."""
        out = []
        for k in range(len(self.background)):
            try:
                out.append(open(os.path.join(self.dir, ".bg%d.log" % k)).read())
            except OSError:
                pass
        return "".join(out)

    def finish(self):
        """What the page's commands left running (the background ones,
        and whatever any command started) ends."""
        REAPER.end_all()
        self.background = []

    def report(self, n, what, problems, skip=None):
        self.n += 1
        # no backslashes: sh's echo would read them as escapes
        title = ("%s:%d: %s" % (self.name, n, what)).replace("\\", "")
        if skip:
            print("ok - %s # SKIP %s" % (title, skip))
        elif problems:
            print("not ok - " + title)
            for p in problems:
                print("# " + p.replace("\n", "\n# "))
        else:
            print("ok - " + title)
        sys.stdout.flush()

    def go(self):
        pending = {}
        items = parse(self.path)
        for k, item in enumerate(items):
            if item[0] == "error":
                self.report(item[1], "well-formed", [item[2]])
                continue
            if item[0] == "directive":
                _, n, kind, arg = item
                if kind == "sub":
                    a, _, b = arg.partition(" => ")
                    self.subs.append((a, b))
                elif kind in ("file", "skip", "until", "sh", "ready"):
                    pending.setdefault(kind, []).append(arg)
                elif kind == "check":
                    pass	# run after the display before it
                else:
                    self.report(n, "directive", ["unknown directive " + kind])
                continue
            _, n, lines = item
            checks = []
            for later in items[k + 1:]:
                if later[0] != "directive":
                    break
                if later[2] == "check":
                    checks.append(later[3])
            self.display(n, lines, pending, checks)
            pending = {}

    def display(self, n, lines, pending, checks):
        problems = []
        if "skip" in pending:
            self.report(n, (lines[0] if lines else "")[:50], [], skip=pending["skip"][0])
            return
        for cmd in pending.get("sh", []):
            if cmd.rstrip().endswith(" &"):
                self.start(self.expand(cmd).rstrip()[:-1])
                continue
            rc, out, err = self.run(self.expand(cmd))
            if rc != 0:
                problems.append("hidden setup %r: exit %s\n%s%s" % (cmd, rc, out, err))
        if "file" in pending:
            name = pending["file"][0]
            with open(os.path.join(self.dir, name), "w", encoding="utf-8") as f:
                f.write("\n".join(self.expand_output(lines)) + "\n")
            what = "file " + name
        else:
            cmds = transcript(lines)
            if cmds is None:
                self.report(n, "display", ["neither a transcript (\"$ command\") "
                                           "nor named by a test: directive:\n" +
                                           "\n".join(lines[:3])])
                return
            what = cmds[0][0].split("\n")[0][:60]
            until = self.expand(pending["until"][0]) if "until" in pending else None
            for cmd, want in cmds:
                if problems:
                    break
                run = self.expand(cmd)
                if cmd.rstrip().endswith(" &"):
                    self.start(run.rstrip()[:-1])
                    for r in pending.get("ready", []):
                        if not self.ready(self.expand(r)):
                            problems.append("$ %s\nnot ready: %r never "
                                            "succeeded\n%s" % (run, r, self.bglog()))
                    continue
                rc, out, err = self.run(run, until=until)
                got = out.split("\n")
                if got and got[-1] == "":
                    got.pop()
                if rc not in (0, "stopped"):
                    problems.append("$ %s\nexit %s\nstderr:\n%s" % (run, rc, err))
                elif not matches(self.expand_output(want), got):
                    problems.append("$ %s\nwanted:\n%s\ngot:\n%s\nstderr:\n%s" % (
                        run, "\n".join(want), "\n".join(got), err))
        for c in checks:
            if problems:
                break
            rc, out, err = self.run(self.expand(c))
            if rc != 0:
                problems.append("check %r failed (exit %s)\n%s%s" % (c, rc, out, err))
        self.report(n, what, problems)


def main():
    workdir, pages = sys.argv[1], sys.argv[2:]
    bindir = os.path.join(workdir, ".bin")
    os.makedirs(bindir, exist_ok=True)
    with open(os.path.join(bindir, "waitport"), "w") as f:
        f.write("#!/usr/bin/env python3\n"
                "# waitport PORT [SECONDS]: until something listens on 127.0.0.1:PORT\n"
                "import socket, sys, time\n"
                "end = time.time() + float(sys.argv[2] if len(sys.argv) > 2 else 20)\n"
                "while True:\n"
                "    try:\n"
                "        socket.create_connection(('127.0.0.1', int(sys.argv[1])), 1).close()\n"
                "        break\n"
                "    except OSError:\n"
                "        if time.time() > end:\n"
                "            sys.exit(1)\n"
                "        time.sleep(0.1)\n")
    os.chmod(os.path.join(bindir, "waitport"), 0o755)
    os.environ["PATH"] = bindir + ":" + os.environ["PATH"]
    for path in pages:
        page = Page(path, workdir)
        try:
            page.go()
        finally:
            # a second stop signal must not cut the clean-up short
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                signal.signal(sig, signal.SIG_IGN)
            page.finish()
            for sig in (signal.SIGTERM, signal.SIGHUP):
                signal.signal(sig, on_signal)
            signal.signal(signal.SIGINT, signal.default_int_handler)
        if page.n == 0:
            print("not ok - %s: no runnable EXAMPLES" % os.path.basename(path))


if __name__ == "__main__":
    subreaper()
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)
    # also where sh started this script in the background, SIGINT ignored
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        main()
    except Stopped as e:
        sys.exit(128 + e.args[0])
    except KeyboardInterrupt:
        sys.exit(128 + signal.SIGINT)
