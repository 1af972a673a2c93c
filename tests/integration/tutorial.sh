#!/bin/bash
# tutorial.sh - runs every command of docs/tutorial.md and checks the output it shows, and that every function and file it names exists.
#
# The page's conventions (also in a comment at its top): "sh" code blocks
# run in order in one bash with set -e, the first from the top of the
# source tree (it sets KVMLITE_SRC and PATH and moves to a scratch
# directory); the code block after a "<!-- file: NAME -->" line is written
# to NAME in the current directory; a "text" block right after an "sh"
# block is that block's stdout and stderr, compared line by line with
# leading and trailing blanks and the times of --trace lines left out, a
# line "..." standing for any lines; an "sh" block without one must print
# nothing. KVMLITE names the binary under test (default build/kvmlite): its
# directory comes first on PATH after the first block. The blocks see no
# MAKEFLAGS (a copy the page builds is built as a learner's would be),
# XDG_RUNTIME_DIR and TMPDIR inside this test's scratch directory (so the
# spawn's socket is its own), and stop within five minutes.
# Each check prints ok/FAIL with what differed; the last line is "N passed, M failed".
set -u
cd "$(dirname "$0")/../.."
KVMLITE=${KVMLITE:-build/kvmlite}

if [ ! -c /dev/kvm ]; then
	echo "SKIP: /dev/kvm is absent on this host: the tutorial's guests cannot run"
	echo "0 passed, 0 failed, 1 skipped"
	exit 0
fi

exec python3 - "$PWD" docs/tutorial.md "$(realpath "$KVMLITE")" <<'PY'
import difflib, glob, hashlib, os, re, shutil, signal, subprocess, sys, tempfile

root, doc, kvmlite = sys.argv[1:4]
if not os.path.isfile(os.path.join(root, doc)):
    print("FAIL %s exists\ntutorial: 0 passed, 1 failed" % doc)
    sys.exit(1)
text = open(os.path.join(root, doc)).read()
lines = text.split("\n")
passed = failed = 0

def ok(what):
    global passed
    passed += 1
    print("ok   " + what)

def bad(what, *detail):
    global failed
    failed += 1
    print("FAIL " + what)
    for d in detail:
        for l in str(d).rstrip("\n").split("\n"):
            print("     " + l)

# ---- the page's steps: sh blocks (with their expected output) and files ----
steps = []  # ["sh", lineno, body, expected or None] | ["file", lineno, name, body]
i, in_comment, file_next = 0, False, None
while i < len(lines):
    l = lines[i]
    m = re.match(r"\s*<!--\s*file:\s*(\S+)\s*-->\s*$", l)
    if m:
        file_next = m.group(1)
    elif in_comment or l.lstrip().startswith("<!--"):
        in_comment = "-->" not in l
    elif l.startswith("```"):
        info, start = l[3:].strip(), i + 1
        i += 1
        while i < len(lines) and not lines[i].startswith("```"):
            i += 1
        body = "\n".join(lines[start:i]) + "\n"
        if file_next:
            steps.append(["file", start, file_next, body])
            file_next = None
        elif info == "sh":
            steps.append(["sh", start, body, None])
        elif info == "text" and steps and steps[-1][0] == "sh" and steps[-1][3] is None:
            steps[-1][3] = body
    i += 1

# ---- names: every function() and tree file the page names exists, and where it says ----
c_files = [os.path.join(d, f) for d, _, fs in os.walk(os.path.join(root, "vmm")) for f in fs if f.endswith(".c")]
src = {os.path.relpath(p, root): open(p).read() for p in c_files}
top = set(os.listdir(root))

def defined_in(name, path):
    """A C definition starts at column 0 (kernel style); an assembly label or macro is `name:`/.macro name."""
    body = src.get(path)
    if body is None and os.path.isfile(os.path.join(root, path)):
        body = open(os.path.join(root, path)).read()
    if body is None:
        return False
    if path.endswith((".c", ".h")):
        return re.search(r"^[A-Za-z][^;\n]*[ *]" + re.escape(name) + r"\([^;]*$", body, re.M) is not None
    return re.search(r"^\s*(" + re.escape(name) + r":|\.macro\s+" + re.escape(name) + r"\b)", body, re.M) is not None

prose = "\n".join(l for l in lines)
spans = re.findall(r"`([^`\n]+)`", re.sub(r"```.*?```", "", prose, flags=re.S))
funcs = sorted({s[:-2] for s in spans if re.fullmatch(r"[A-Za-z_]\w*\(\)", s)})
files = sorted({s for s in spans if re.fullmatch(r"[\w.-]+(/[\w.*-]*)*", s) and s.split("/")[0] in top and "/" in s})
files += sorted({m for m in re.findall(r"\]\(([^)#\s]+)\)", prose) if not m.startswith("http")})
missing = [f + "()" for f in funcs if not any(defined_in(f, p) for p in src)]
if missing:
    bad("every function the tutorial names is defined in vmm/", "not found: " + ", ".join(missing))
else:
    ok("every function the tutorial names is defined in vmm/ (%d)" % len(funcs))
gone = [f for f in files if not glob.glob(os.path.join(root, f)) and not os.path.exists(os.path.join(root, os.path.dirname(doc), f))]
if gone:
    bad("every file of the tree the tutorial names exists", "not found: " + ", ".join(gone))
else:
    ok("every file of the tree the tutorial names exists (%d)" % len(files))
macros = sorted({s for s in spans if re.fullmatch(r"[A-Z][A-Z0-9]*_[A-Z0-9_]+", s)})
everything = "\n".join(src.values()) + open(os.path.join(root, "vmm/layout.h")).read()
nomacro = [m for m in macros if not re.search(r"\b" + m + r"\b", everything)]
if nomacro:
    bad("every constant the tutorial names is in vmm/", "not found: " + ", ".join(nomacro))
else:
    ok("every constant the tutorial names is in vmm/ (%d)" % len(macros))
# Where the page pairs a function with its file: in one table row, or "`f()` in `file`".
wrong = []
for l in lines:
    row_files = re.findall(r"`([\w.-]+/[\w./-]+)`", l)
    if l.startswith("|") and row_files:
        for f in re.findall(r"`([A-Za-z_]\w*)\(\)`", l):
            if not any(defined_in(f, p) for p in row_files):
                wrong.append("%s() in none of %s" % (f, ", ".join(row_files)))
name = r"`[A-Za-z_]\w*(?:\(\))?`"
flat = re.sub(r"```.*?```", "", prose, flags=re.S).replace("\n", " ")
for names, p in re.findall(r"((?:%s(?:, | and | or ))*%s) in `([\w.-]+/[\w./-]+)`" % (name, name), flat):
    for f in re.findall(r"`([A-Za-z_]\w*)", names):
        if not defined_in(f, p):
            wrong.append("%s not in %s" % (f, p))
if wrong:
    bad("each function is defined in the file the tutorial says", *wrong)
else:
    ok("each function is defined in the file the tutorial says")

# ---- run the blocks ----
def tree_state():
    """A digest of what the page must not change: the sources a learner's copy is made of."""
    h = hashlib.sha256()
    paths = [os.path.join(root, "Makefile")]
    for sub in ("vmm", "guest", "fuzz"):
        paths += [os.path.join(d, f) for d, _, fs in os.walk(os.path.join(root, sub)) for f in fs]
    for p in sorted(paths):
        h.update(p.encode() + b"\0" + open(p, "rb").read())
    return h.hexdigest()

before = tree_state()
work = tempfile.mkdtemp(prefix="tutorial.")
outdir = os.path.join(work, "out")
os.makedirs(outdir)
os.makedirs(os.path.join(work, "run"), mode=0o700)
script = ["set -eE", 'trap \'echo "tutorial.sh: this command failed (status $?): $BASH_COMMAND" >&2\' ERR',
          "cd %s" % subprocess.list2cmdline([root])]
blocks = []
for n, st in enumerate(steps):
    if st[0] == "file":
        delim = "TUTORIAL_FILE_%d" % n
        script.append("cat > %s <<'%s'\n%s%s" % (st[2], delim, st[3], delim))
        continue
    k = len(blocks)
    blocks.append(st)
    script.append("{\n%s} > %s/%d 2>&1 < /dev/null" % (st[2], outdir, k))
    script.append("echo %d > %s/last" % (k, outdir))
    if k == 0:
        script.append('export PATH="%s:$PATH"' % os.path.dirname(kvmlite))
# A learner's shell has none of make's variables: without MAKEFLAGS, and SANITIZE that `make SANITIZE=1`
# exports, the copy the page builds is built where the page says (mykvm/build/kvmlite).
env = {k: v for k, v in os.environ.items()
       if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "SANITIZE", "CFLAGS", "LDFLAGS")}
env.update(TMPDIR=work, XDG_RUNTIME_DIR=os.path.join(work, "run"))
proc = subprocess.Popen(["bash", "-c", "\n".join(script) + "\n"], env=env, start_new_session=True,
                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
try:
    out, _ = proc.communicate(timeout=300)
    status = proc.returncode
except subprocess.TimeoutExpired:
    status, out = "timeout (300 s)", ""
finally:
    # A block that failed may leave its spawn behind: stop it through its socket, then end the group.
    sock = os.path.join(work, "run", "kvmlite", "control")
    if os.path.exists(sock):
        try:
            subprocess.run([kvmlite, "stop", "--socket", sock], capture_output=True, timeout=30)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()

def norm(s):
    out = [re.sub(r"^\[\s*\d+\.\d{6}\] ", "[time] ", l.strip()) for l in s.rstrip("\n").split("\n")]
    return [] if out == [""] else out

def match(exp, got):
    if not exp:
        return not got
    if exp[0] == "...":
        return any(match(exp[1:], got[j:]) for j in range(len(got) + 1))
    return bool(got) and exp[0] == got[0] and match(exp[1:], got[1:])

last = open(os.path.join(outdir, "last")).read().strip() if os.path.exists(os.path.join(outdir, "last")) else "-1"
for k, (_, lineno, body, expected) in enumerate(blocks):
    what = "block at %s:%d (%s)" % (doc, lineno, body.strip().split("\n")[0][:60])
    path = os.path.join(outdir, str(k))
    if not os.path.exists(path):
        bad("the %d blocks from %s:%d on ran" % (len(blocks) - k, doc, lineno), "not reached")
        break
    got = open(path).read()
    if k > int(last):
        bad(what + " ran", "status %s" % status, got, out)
        continue
    exp = norm(expected) if expected is not None else []
    if match(exp, norm(got)):
        ok(what + (" printed what the page shows" if expected is not None else " ran and printed nothing"))
    else:
        bad(what + " printed what the page shows",
            "\n".join(difflib.unified_diff(exp, norm(got), "docs/tutorial.md", "the run", lineterm="")))
if status != 0 and int(last) == len(blocks) - 1:
    bad("the tutorial's shell ended well", "status %s" % status, out)
if tree_state() == before:
    ok("the tutorial changed nothing in the source tree (its device change is made in a copy)")
else:
    bad("the tutorial changed nothing in the source tree", "Makefile, vmm/, guest/ or fuzz/ changed while it ran")

shutil.rmtree(work, ignore_errors=True)
print("tutorial: %d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
PY
