#!/usr/bin/env python3
"""Module dependency cycles inside Rust crates (stdlib only).

usage: python3 .ci/module-cycles.py SRC_DIR [SRC_DIR ...]
       python3 .ci/module-cycles.py --self-test

For each crate source folder (the one holding lib.rs and/or main.rs) it builds the module tree
from the `mod` declarations (inline `mod x { ... }`, `x.rs`, `x/mod.rs`, and `x.rs` beside a
folder `x/`), then the dependency graph from:

  - every `use` and `pub use` (re-exports included), whatever its visibility;
  - every `crate::...`, `self::...` and `super::...` path in code, `super` resolved to the
    parent of the module it is written in (`super::super` to the grandparent);
  - names followed through imports: a path that reaches a name some module imports or
    re-exports (`crate::Network` through lib.rs's `pub use network::Network`, `super::Foo`
    through a `mod.rs`'s `pub use x::Foo`) depends on the module that defines it; a glob import
    (`use super::*`) depends on each module whose name the importing module actually uses.

Graph levels: the top-level modules of the crate (a child module counts as part of the
top-level module it lives in), and, for every module that has child modules, the graph among
those siblings (`a/x.rs` <-> `a/y.rs`, or two inline modules of one file), so a loop inside a
folder is found even when the folder as a whole is acyclic from outside. The crate root
(lib.rs/main.rs) is not a node: it declares every top-level module.

Deliberately ignored:
  - comments, including doc comments: an intra-doc link such as [`crate::network`] is
    documentation, not a dependency (the code builds without it), and string literals;
  - items under `#[cfg(test)]` (typically `mod tests { ... }`), which may reach across layers;
  - `pub(in path)`, `pub(super)`, `pub(crate)` visibilities and `$crate::` in macros;
  - `#[cfg]` on other items: every configuration is checked at once.

It prints each cycle (`a -> b -> c -> a`, with the first reference behind each edge) or, when a
level has none, its layered order (layer 0 depends on nothing inside the crate, layer k only on
layers below k). Exit status: 0 no cycle, 1 at least one cycle, 2 usage or input error.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile

MAX_CYCLES_PER_GROUP = 40
IDENT = r"(?:r#)?[A-Za-z_][A-Za-z0-9_]*"


def blank(text):
    """Comments and literal contents replaced by spaces (newlines kept, so offsets and lines
    still match the file)."""
    out = list(text)
    n = len(text)
    i = 0

    def wipe(a, b):
        for k in range(a, b):
            if out[k] != "\n":
                out[k] = " "

    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            wipe(i, j)
            i = j
        elif text.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            wipe(i, j)
            i = j
        elif (
            c in "rb"
            and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_"))
            and re.match(r"(?:br|r)#*\"", text[i:])
        ):
            m = re.match(r"(?:br|r)(#*)\"", text[i:])
            close = '"' + m.group(1)
            j = text.find(close, i + m.end())
            j = n if j < 0 else j + len(close)
            wipe(i + 1, j)
            i = j
        elif c == '"' or (c == "b" and text.startswith('b"', i) and (i == 0 or not text[i - 1].isalnum())):
            j = i + (2 if c == "b" else 1)
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            wipe(i, min(j + 1, n))
            i = j + 1
        elif c == "'":
            m = re.match(r"'(?:\\(?:x[0-9a-fA-F]{2}|u\{[0-9a-fA-F_]+\}|.)|[^\\'\n])'", text[i:])
            if m:
                wipe(i, i + m.end())
                i += m.end()
            else:
                i += 1  # a lifetime or a label
        else:
            i += 1
    return "".join(out)


def match_brace(text, open_at):
    """Index just past the `}` matching the `{` at open_at."""
    depth = 0
    for k in range(open_at, len(text)):
        if text[k] == "{":
            depth += 1
        elif text[k] == "}":
            depth -= 1
            if depth == 0:
                return k + 1
    return len(text)


def item_end(text, start):
    """End of the item starting at `start`: its `;` or its closing brace, whichever first."""
    depth_paren = 0
    for k in range(start, len(text)):
        ch = text[k]
        if ch in "([":
            depth_paren += 1
        elif ch in ")]":
            depth_paren -= 1
        elif ch == ";" and depth_paren <= 0:
            return k + 1
        elif ch == "{" and depth_paren <= 0:
            return match_brace(text, k)
    return len(text)


TEST_CFG = re.compile(r"#\s*\[\s*cfg\s*\(\s*(?:all\s*\(\s*)?test\s*[,)]")
ATTR = re.compile(r"\s*#\s*!?\s*\[")


def drop_test_items(text):
    """Items under #[cfg(test)] (or #[cfg(all(test, ...))]) blanked."""
    out = list(text)
    pos = 0
    while True:
        m = TEST_CFG.search(text, pos)
        if not m:
            break
        k = text.find("[", m.start())
        k = item_end_attr(text, k)
        while True:  # further attributes on the same item
            a = ATTR.match(text, k)
            if not a:
                break
            k = item_end_attr(text, a.end() - 1)
        end = item_end(text, k)
        for q in range(m.start(), end):
            if out[q] != "\n":
                out[q] = " "
        pos = end
    return "".join(out)


def item_end_attr(text, open_bracket):
    depth = 0
    for k in range(open_bracket, len(text)):
        if text[k] == "[":
            depth += 1
        elif text[k] == "]":
            depth -= 1
            if depth == 0:
                return k + 1
    return len(text)


VISIBILITY = re.compile(r"\bpub\s*\(\s*(?:crate|super|self|in\s+[A-Za-z_:\s]+)\s*\)")


class Module:
    def __init__(self, path, file, text):
        self.path = path  # tuple of names from the crate root
        self.file = file
        self.text = text  # this module's own code (children blanked), file offsets kept
        self.children = {}  # name -> path
        self.imports = {}  # bound name -> (segments, offset)
        self.globs = []  # (segments, offset)
        self.uses = []  # (segments, offset): every path this module names
        self.defined = set()


def strip_raw(name):
    return name[2:] if name.startswith("r#") else name


def line_of(text, offset):
    return text.count("\n", 0, offset) + 1


MOD_DECL = re.compile(r"\bmod\s+(" + IDENT + r")\s*([;{])")
DEFINED = re.compile(
    r"\b(?:fn|struct|enum|union|trait|type|const|static|macro_rules!)\s+(?:mut\s+)?(" + IDENT + r")"
)


class Crate:
    def __init__(self, src, root_file):
        self.src = src
        self.root_file = root_file
        self.modules = {}
        self.errors = []
        self.files = {}
        self.load_file(root_file, (), True)

    def read(self, path):
        if path not in self.files:
            with open(path, encoding="utf-8") as f:
                raw = f.read()
            code = VISIBILITY.sub(lambda m: "pub" + " " * (len(m.group(0)) - 3), drop_test_items(blank(raw)))
            self.files[path] = (raw, code)
        return self.files[path]

    def load_file(self, file, path, mod_rs):
        _, code = self.read(file)
        # Child files of a module `x` in `dir/x.rs` live in `dir/x/`; of lib.rs or mod.rs in `dir/`.
        base = os.path.dirname(file) if mod_rs else os.path.splitext(file)[0]
        self.parse(file, code, 0, len(code), path, base)

    def parse(self, file, code, start, end, path, base):
        own = list(code)
        for k in list(range(0, start)) + list(range(end, len(code))):
            if own[k] != "\n":
                own[k] = " "
        module = Module(path, file, None)
        self.modules[path] = module
        pos = start
        while True:
            m = MOD_DECL.search(code, pos, end)
            if not m:
                break
            name = strip_raw(m.group(1))
            child = path + (name,)
            module.children[name] = child
            if m.group(2) == "{":
                close = match_brace(code, m.end() - 1)
                self.parse(file, code, m.end(), close - 1, child, os.path.join(base, name))
                for k in range(m.start(), close):
                    if own[k] != "\n":
                        own[k] = " "
                pos = close
            else:
                candidates = [
                    (os.path.join(base, name + ".rs"), False),
                    (os.path.join(base, name, "mod.rs"), True),
                ]
                found = [c for c in candidates if os.path.isfile(c[0])]
                if not found:
                    self.errors.append(
                        "%s:%d: `mod %s;` but neither %s nor %s exists"
                        % (file, line_of(code, m.start()), name, candidates[0][0], candidates[1][0])
                    )
                else:
                    self.load_file(found[0][0], child, found[0][1])
                pos = m.end()
        module.text = "".join(own)
        self.collect(module)

    def collect(self, module):
        text = module.text
        module.defined = {strip_raw(n) for n in DEFINED.findall(text)}
        code_only = list(text)
        for m in re.finditer(r"\buse\s+", text):
            if m.start() > 0 and text[m.start() - 1] in "$:":
                continue
            end = item_end(text, m.end())
            body = text[m.end() : end].rstrip(";")
            tokens = re.findall(r"::|\{|\}|,|\*|" + IDENT, body)
            try:
                trees, _ = parse_use(tokens, 0, [])
            except (IndexError, ValueError):
                self.errors.append("%s:%d: cannot parse `use %s`" % (module.file, line_of(text, m.start()), body.strip()))
                continue
            for segs, alias in trees:
                segs = [strip_raw(s) for s in segs]
                if alias == "*":
                    module.globs.append((segs, m.start()))
                    module.uses.append((segs, m.start()))
                    continue
                if segs and segs[-1] == "self":
                    segs = segs[:-1]
                if not segs:
                    continue
                bound = alias if alias else segs[-1]
                if bound != "_" and bound not in ("crate", "super", "self"):
                    module.imports[bound] = (segs, m.start())
                module.uses.append((segs, m.start()))
            for k in range(m.start(), end):
                if code_only[k] != "\n":
                    code_only[k] = " "
        code = "".join(code_only)
        path_re = re.compile(r"(?<![A-Za-z0-9_$:])((?:crate|self|super)(?:\s*::\s*" + IDENT + r")+)")
        for m in path_re.finditer(code):
            segs = [strip_raw(s.strip()) for s in m.group(1).split("::")]
            module.uses.append((segs, m.start()))
        module.idents = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", code))

    def resolve(self, here, segs, depth=0):
        """The module that defines what `segs`, written in module `here`, names (None outside
        the crate)."""
        if depth > 16 or not segs:
            return None
        cur = here
        i = 0
        if segs[0] == "crate":
            cur, i = (), 1
        elif segs[0] in ("self", "super"):
            while i < len(segs) and segs[i] in ("self", "super"):
                if segs[i] == "super":
                    if not cur:
                        return None
                    cur = cur[:-1]
                i += 1
        else:
            mod = self.modules.get(cur)
            first = segs[0]
            if not mod or (first not in mod.children and first not in mod.imports and first not in mod.defined):
                return None  # another crate (std, core, a dependency)
        while i < len(segs):
            mod = self.modules.get(cur)
            if mod is None:
                return cur
            name = segs[i]
            if name in mod.children:
                cur = mod.children[name]
                i += 1
                continue
            if name in mod.imports and name not in mod.defined:
                target, _ = mod.imports[name]
                resolved = self.resolve(cur, list(target) + list(segs[i + 1 :]), depth + 1)
                return cur if resolved is None else resolved
            if name not in mod.defined:
                for glob, _ in mod.globs:
                    g = self.resolve(cur, glob, depth + 1)
                    if g is not None and g != cur and self.exports(g, name):
                        return self.resolve(g, [name] + list(segs[i + 1 :]), depth + 1)
            return cur
        return cur

    def exports(self, path, name):
        mod = self.modules.get(path)
        return bool(mod) and (name in mod.defined or name in mod.imports or name in mod.children)

    def edges(self):
        """(source module, target module) -> first (file, line, text) that makes the edge."""
        found = {}
        for path, mod in self.modules.items():
            refs = []
            for segs, offset in mod.uses:
                refs.append((self.resolve(path, segs), segs, offset))
            for glob, offset in mod.globs:  # the names a glob brings in and this module uses
                g = self.resolve(path, glob)
                gm = self.modules.get(g) if g is not None else None
                if gm is None:
                    continue
                for name in sorted(gm.defined | set(gm.imports) | set(gm.children)):
                    if name in mod.idents:
                        refs.append((self.resolve(g, [name]), glob + [name], offset))
            for target, segs, offset in refs:
                if target is None or target == path:
                    continue
                key = (path, target)
                if key not in found:
                    found[key] = (mod.file, line_of(mod.text, offset), "::".join(segs))
        return found


def parse_use(tokens, i, prefix):
    """A use tree as [(segments, alias)], alias '*' for a glob."""
    path = list(prefix)
    if i < len(tokens) and tokens[i] == "::":
        i += 1
    while True:
        tok = tokens[i]
        if tok == "{":
            i += 1
            items = []
            while tokens[i] != "}":
                sub, i = parse_use(tokens, i, path)
                items += sub
                if tokens[i] == ",":
                    i += 1
            return items, i + 1
        if tok == "*":
            return [(path, "*")], i + 1
        if tok in ("}", ",", "::"):
            raise ValueError(tok)
        path.append(tok)
        i += 1
        if i < len(tokens) and tokens[i] == "::":
            i += 1
            continue
        alias = None
        if i < len(tokens) and tokens[i] == "as":
            alias = tokens[i + 1]
            i += 2
        return [(path, alias)], i


def tarjan(nodes, graph):
    index, low, on, stack, sccs = {}, {}, set(), [], []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            scc = []
            while True:
                w = stack.pop()
                on.discard(w)
                scc.append(w)
                if w == v:
                    break
            sccs.append(sorted(scc))

    sys.setrecursionlimit(10000)
    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return sccs


def cycles_in(scc, graph, limit):
    """Elementary cycles of one strongly connected component, each started at its smallest
    node, shortest first; at most `limit` (and whether there were more)."""
    members = set(scc)
    found = []
    more = False
    for start in sorted(scc):
        allowed = {v for v in members if v >= start}
        stack = [(start, [start])]
        while stack:
            v, path = stack.pop()
            for w in sorted(graph.get(v, ()), reverse=True):
                if w not in allowed:
                    continue
                if w == start:
                    if len(found) >= limit:
                        more = True
                        continue
                    found.append(path + [start])
                elif w not in path:
                    stack.append((w, path + [w]))
    found.sort(key=lambda c: (len(c), c))
    return found, more


def layers(nodes, graph):
    placed, order = set(), []
    rest = set(nodes)
    while rest:
        layer = sorted(v for v in rest if graph.get(v, set()) <= placed)
        if not layer:
            return None
        order.append(layer)
        placed |= set(layer)
        rest -= set(layer)
    return order


def check_crate(crate, out):
    edges = crate.edges()
    cyclic = False
    # Every module with children is one level: the graph among its children.
    parents = sorted((p for p, m in crate.modules.items() if m.children), key=lambda p: (len(p), p))
    for parent in parents:
        kids = sorted(crate.modules[parent].children)
        graph = {k: set() for k in kids}
        evidence = {}
        n = len(parent)
        for (src, dst), where in sorted(edges.items()):
            if len(src) > n and len(dst) > n and src[:n] == parent and dst[:n] == parent and src[n] != dst[n]:
                a, b = src[n], dst[n]
                graph[a].add(b)
                evidence.setdefault((a, b), (src, dst, where))
        label = "top-level modules" if not parent else "submodules of %s" % "::".join(parent)
        if len(kids) < 2:
            continue
        sccs = [s for s in tarjan(kids, graph) if len(s) > 1]
        if not sccs:
            if parent and not any(graph.values()):
                continue  # siblings that do not use each other: nothing to order
            order = layers(kids, graph)
            out.append("  %s: no cycle; layers, bottom first:" % label)
            for k, layer in enumerate(order):
                out.append("    %d: %s" % (k, ", ".join(layer)))
            continue
        cyclic = True
        out.append("  %s: CYCLES" % label)
        for scc in sccs:
            cycles, more = cycles_in(scc, graph, MAX_CYCLES_PER_GROUP)
            for cycle in cycles:
                out.append("    " + " -> ".join(cycle))
                for a, b in zip(cycle, cycle[1:]):
                    src, dst, (file, line, text) = evidence[(a, b)]
                    out.append(
                        "        %s -> %s: %s:%d `%s`"
                        % (a, b, os.path.relpath(file), line, text)
                    )
            if more:
                out.append("    ... more cycles among: %s" % ", ".join(scc))
    return cyclic


def check(dirs):
    status = 0
    for src in dirs:
        roots = [os.path.join(src, f) for f in ("lib.rs", "main.rs") if os.path.isfile(os.path.join(src, f))]
        if not roots:
            print("%s: no lib.rs or main.rs" % src, file=sys.stderr)
            return 2
        for root in roots:
            crate = Crate(src, root)
            if root.endswith("main.rs") and len(roots) == 2 and not crate.modules[()].children:
                continue  # the binary of a library crate, with no modules of its own
            out = []
            cyclic = check_crate(crate, out)
            print("%s (%d modules): %s" % (root, len(crate.modules) - 1, "CYCLES" if cyclic else "no cycle"))
            for line in out:
                print(line)
            for err in crate.errors:
                print("  error: " + err)
            if crate.errors:
                status = max(status, 2)
            if cyclic:
                status = max(status, 1) if status != 2 else 2
    return status


SELF_TEST_CRATES = {
    # A cycle through a re-export and `super::`, one inside a folder, and test code and doc links
    # that must not count.
    "cyclic": {
        "lib.rs": "//! [`crate::b`] is only a doc link.\nmod a;\nmod b;\nmod c;\npub use b::Thing;\n",
        "a.rs": "use crate::Thing; // through lib.rs's re-export: a -> b\npub fn f() {}\n",
        "b.rs": "pub struct Thing;\npub fn g() { super::c::h() } // b -> c\n",
        "c/mod.rs": "mod x;\nmod y;\npub use x::h;\n",
        "c/x.rs": "pub fn h() { crate::a::f(); super::y::k() } // c -> a, and x -> y inside c\n",
        "c/y.rs": "pub fn k() {}\npub fn m() { super::h() } // through c's re-export: y -> x\n",
    },
    # The same shapes without a loop: test blocks, comments and strings reach back but are ignored.
    "acyclic": {
        "lib.rs": "pub mod a;\npub mod b;\npub mod c;\npub use a::Base;\n",
        "a.rs": (
            "/// Used by [`crate::b`] and [`super::c`].\npub struct Base;\n"
            "const S: &str = \"crate::c::x\";\n"
            "#[cfg(test)]\nmod tests {\n    use crate::c::x::top;\n    fn t() { crate::b::mid() }\n}\n"
        ),
        "b.rs": "use super::Base;\npub fn mid() -> crate::Base { Base }\n",
        "c.rs": "mod x;\nmod y;\n",
        "c/x.rs": "pub fn top() { super::y::low(); crate::b::mid(); }\n",
        "c/y.rs": "pub(in crate::c) fn low() { let _ = crate::a::Base; }\n",
    },
}


def self_test():
    failures = []
    tmp = tempfile.mkdtemp(prefix="module-cycles-")
    try:
        for name, files in SELF_TEST_CRATES.items():
            for rel, text in files.items():
                path = os.path.join(tmp, name, "src", rel)
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(path, "w", encoding="utf-8") as f:
                    f.write(text)
        run = lambda d: subprocess.run(
            [sys.executable, os.path.abspath(__file__), os.path.join(tmp, d, "src")],
            capture_output=True,
            text=True,
        )
        cyclic, acyclic = run("cyclic"), run("acyclic")
        expect = [
            (cyclic.returncode == 1, "cyclic crate: exit status %d, expected 1" % cyclic.returncode),
            ("a -> b -> c -> a" in cyclic.stdout, "cyclic crate: top-level cycle a -> b -> c -> a not reported"),
            ("submodules of c: CYCLES" in cyclic.stdout, "cyclic crate: no cycle reported inside folder c/"),
            ("    x -> y -> x" in cyclic.stdout, "cyclic crate: x -> y -> x inside c/ not reported"),
            (acyclic.returncode == 0, "acyclic crate: exit status %d, expected 0" % acyclic.returncode),
            ("0: a\n    1: b\n    2: c" in acyclic.stdout, "acyclic crate: layers a | b | c not printed"),
            ("submodules of c: no cycle" in acyclic.stdout, "acyclic crate: c's submodules not ordered"),
        ]
        for ok, message in expect:
            if not ok:
                failures.append(message)
        if failures:
            print("--- cyclic:\n" + cyclic.stdout + cyclic.stderr)
            print("--- acyclic:\n" + acyclic.stdout + acyclic.stderr)
    finally:
        shutil.rmtree(tmp)
    for message in failures:
        print("self-test FAILED: " + message)
    if not failures:
        print("self-test passed (%d checks)" % len(expect))
    return 1 if failures else 0


def main(argv):
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if argv else 2
    if argv == ["--self-test"]:
        return self_test()
    for d in argv:
        if not os.path.isdir(d):
            print("%s: not a directory" % d, file=sys.stderr)
            return 2
    return check(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
