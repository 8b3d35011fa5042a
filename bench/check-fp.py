#!/usr/bin/env python3
"""False-positive harness for `berth check` on hand-graded public repositories.

    bench/check-fp.py CORPORA_DIR [--berth PATH] [--verbose]
                      [--max-fp-rate 0.05] [--max-rule-fp-rate 0.10] [--min-rule-graded 5]

CORPORA_DIR holds one work tree per repository, named `owner+name` (the names
in bench/check-grades/repos.tsv, checked out at the commit listed there).
For each of them this runs `berth check <owner+name> -o json` from
CORPORA_DIR and matches every finding to the grades in
bench/check-grades/<owner+name>.tsv by (file, line, code); several findings
with one key share its grade.

It prints per-repository counts, TP/FP per rule, the false-positive rate
(FP / graded, over the graded findings that appear now) overall and per
rule, the findings nobody graded yet (listed with --verbose), and a FAIL
line for:

  - every graded TP that no longer appears (a lost true positive);
  - every FP listed in bench/check-grades/fixed.tsv that appears again
    (a false positive that was fixed and came back).

A graded FP that still appears is the current state: it counts in the FP
rate. When it stops appearing, the harness says so; move its line to
fixed.tsv (repo, file, line, code, reason) so it cannot come back unnoticed.

Exit status 1 when a TP is lost, a fixed FP returns, the overall FP rate is
above --max-fp-rate, or the FP rate of a rule with at least
--min-rule-graded graded findings is above --max-rule-fp-rate. Exit 2 when
berth cannot be run. Python 3 standard library only.
"""

import argparse
import collections
import json
import os
import signal
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GRADES = os.path.join(ROOT, "bench", "check-grades")


def read_tsv(path, columns):
    """Rows of a TSV file with a header line, as dicts; checks the header."""
    rows = []
    with open(path, encoding="utf-8") as f:
        header = f.readline().rstrip("\n").split("\t")
        if header[: len(columns)] != columns:
            sys.exit(f"{path}: header must start with {' '.join(columns)}, not {' '.join(header)}")
        for number, line in enumerate(f, start=2):
            line = line.rstrip("\n")
            if not line.strip() or line.startswith("#"):
                continue
            cells = line.split("\t")
            if len(cells) < len(columns):
                sys.exit(f"{path}:{number}: expected {len(columns)} tab-separated columns")
            row = dict(zip(columns, cells))
            row["_where"] = f"{os.path.relpath(path, ROOT)}:{number}"
            rows.append(row)
    return rows


def load_grades(repo):
    """{(file, line, code): (grade, reason, where)} for one repository."""
    path = os.path.join(GRADES, f"{repo}.tsv")
    if not os.path.exists(path):
        return {}
    grades = {}
    for row in read_tsv(path, ["file", "line", "code", "grade", "reason"]):
        grade = row["grade"].upper()
        if grade not in ("TP", "FP"):
            sys.exit(f"{row['_where']}: grade must be TP or FP, not {row['grade']}")
        key = (row["file"], int(row["line"]), row["code"])
        if key in grades:
            sys.exit(f"{row['_where']}: {key} is graded twice")
        grades[key] = (grade, row["reason"], row["_where"])
    return grades


def run_berth(berth, corpora, repo):
    """Findings of `berth check` on one work tree, as (file, line, code, message)."""
    try:
        done = subprocess.run(
            [berth, "check", repo, "-o", "json", "--color", "never"],
            cwd=corpora,
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError as e:
        print(f"error: cannot run {berth}: {e}", file=sys.stderr)
        sys.exit(2)
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError:
        print(f"error: berth check {repo} exited {done.returncode} without a JSON report", file=sys.stderr)
        print(done.stderr.strip()[-2000:], file=sys.stderr)
        sys.exit(2)
    findings = []
    prefix = repo + "/"
    for f in report.get("findings", []):
        path = f["file"]
        if path.startswith(prefix):
            path = path[len(prefix):]
        findings.append((path, f["start"]["line"], f["code"], f["message"]))
    return findings


def table(rows, header, align):
    """Rows as an aligned text table ('<' left, '>' right per column)."""
    cells = [[str(c) for c in r] for r in [header] + rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    out = []
    for n, r in enumerate(cells):
        out.append("  ".join(c.ljust(w) if a == "<" else c.rjust(w) for c, w, a in zip(r, widths, align)).rstrip())
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def pct(fp, graded):
    return f"{100 * fp / graded:.1f}%" if graded else "-"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpora", help="directory holding one work tree per repository, named owner+name")
    parser.add_argument("--berth", default=os.path.join(ROOT, "target", "release", "berth"), help="berth binary (default: target/release/berth)")
    parser.add_argument("--verbose", "-v", action="store_true", help="list ungraded findings and the graded FPs still present")
    parser.add_argument("--max-fp-rate", type=float, default=0.05, help="fail when FP/graded overall exceeds this (default 0.05)")
    parser.add_argument("--max-rule-fp-rate", type=float, default=0.10, help="fail when a rule's FP/graded exceeds this (default 0.10)")
    parser.add_argument("--record-fixed", action="store_true", help="append graded FPs that no longer appear to fixed.tsv, so they fail the run if they return")
    parser.add_argument("--min-rule-graded", type=int, default=5, help="per-rule threshold applies from this many graded findings (default 5)")
    args = parser.parse_args()
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `| head` ends quietly

    corpora = os.path.abspath(args.corpora)
    berth = os.path.abspath(args.berth) if os.sep in args.berth else args.berth
    repos = read_tsv(os.path.join(GRADES, "repos.tsv"), ["repo", "commit", "url"])
    fixed = read_tsv(os.path.join(GRADES, "fixed.tsv"), ["repo", "file", "line", "code", "reason"])
    fixed_keys = {(r["repo"], r["file"], int(r["line"]), r["code"]): r for r in fixed}
    newly_fixed = []

    fails, notes, ungraded, fp_present = [], [], [], []
    per_repo = []
    per_rule = collections.defaultdict(lambda: collections.Counter())
    totals = collections.Counter()

    for entry in repos:
        repo = entry["repo"]
        tree = os.path.join(corpora, repo)
        if not os.path.isdir(tree):
            print(f"warning: {repo}: no work tree at {tree} (check out {entry['url']} at {entry['commit'][:12]}); skipped")
            continue
        grades = load_grades(repo)
        findings = run_berth(berth, corpora, repo)
        seen = collections.Counter((f, l, c) for f, l, c, _ in findings)
        counts = collections.Counter()
        for f, l, c, message in findings:
            key = (f, l, c)
            counts["findings"] += 1
            per_rule[c]["findings"] += 1
            if (repo, f, l, c) in fixed_keys:
                fails.append(f"FAIL fixed FP returned: {repo}/{f}:{l} {c} {message}  ({fixed_keys[(repo, f, l, c)]['_where']})")
            if key in grades:
                grade, reason, where = grades[key]
                counts[grade] += 1
                per_rule[c][grade] += 1
                if grade == "FP":
                    fp_present.append(f"  {repo}/{f}:{l} {c}  {reason}")
            else:
                counts["ungraded"] += 1
                per_rule[c]["ungraded"] += 1
                ungraded.append(f"  {repo}/{f}:{l} {c}  {message}")
        for key, (grade, reason, where) in sorted(grades.items()):
            if key in seen:
                continue
            f, l, c = key
            if grade == "TP":
                counts["lost"] += 1
                fails.append(f"FAIL lost TP: {repo}/{f}:{l} {c}  ({reason})  [{where}]")
            else:
                counts["gone"] += 1
                if (repo, f, l, c) not in fixed_keys:
                    newly_fixed.append((repo, f, l, c, reason))
                    notes.append(f"  {repo}/{f}:{l} {c}  ({where}): graded FP no longer appears; --record-fixed adds it to fixed.tsv")
        totals.update(counts)
        per_repo.append([repo, counts["findings"], counts["TP"] + counts["FP"], counts["TP"], counts["FP"],
                         pct(counts["FP"], counts["TP"] + counts["FP"]), counts["ungraded"], counts["lost"], counts["gone"]])

    if args.record_fixed and newly_fixed:
        with open(os.path.join(GRADES, "fixed.tsv"), "a", encoding="utf-8") as out:
            for repo, f, l, c, reason in newly_fixed:
                out.write(f"{repo}\t{f}\t{l}\t{c}\t{reason}\n")
        print(f"recorded {len(newly_fixed)} fixed false positive(s) in bench/check-grades/fixed.tsv")

    if not per_repo:
        print(f"error: none of the {len(repos)} repositories in repos.tsv has a work tree in {corpora}", file=sys.stderr)
        return 2
    print(f"berth: {berth}\ncorpora: {corpora}\n")
    per_repo.append(["total", totals["findings"], totals["TP"] + totals["FP"], totals["TP"], totals["FP"],
                     pct(totals["FP"], totals["TP"] + totals["FP"]), totals["ungraded"], totals["lost"], totals["gone"]])
    print(table(per_repo, ["repository", "findings", "graded", "TP", "FP", "FP rate", "ungraded", "lost TP", "FP gone"],
                ["<", ">", ">", ">", ">", ">", ">", ">", ">"]))

    rule_rows = []
    over = []
    for code in sorted(per_rule):
        c = per_rule[code]
        graded = c["TP"] + c["FP"]
        flag = ""
        if graded >= args.min_rule_graded and c["FP"] / graded > args.max_rule_fp_rate:
            flag = f"> {100 * args.max_rule_fp_rate:.0f}%"
            over.append(f"FAIL {code}: FP rate {pct(c['FP'], graded)} over {graded} graded findings (limit {100 * args.max_rule_fp_rate:.0f}%)")
        elif 0 < graded < args.min_rule_graded:
            flag = "(few graded)"
        rule_rows.append([code, c["findings"], graded, c["TP"], c["FP"], pct(c["FP"], graded), c["ungraded"], flag])
    print()
    print(table(rule_rows, ["rule", "findings", "graded", "TP", "FP", "FP rate", "ungraded", ""],
                ["<", ">", ">", ">", ">", ">", ">", "<"]))

    graded = totals["TP"] + totals["FP"]
    print(f"\nFP rate overall: {pct(totals['FP'], graded)} ({totals['FP']} FP of {graded} graded findings present); "
          f"{totals['ungraded']} finding(s) ungraded{'' if args.verbose else ' (--verbose lists them)'}")
    if args.verbose:
        if fp_present:
            print("\ngraded false positives still present:")
            print("\n".join(fp_present))
        if ungraded:
            print("\nungraded findings:")
            print("\n".join(ungraded))
    if notes:
        print("\nfixed since graded:")
        print("\n".join(notes))

    if graded and totals["FP"] / graded > args.max_fp_rate:
        over.insert(0, f"FAIL overall FP rate {pct(totals['FP'], graded)} exceeds {100 * args.max_fp_rate:.0f}%")
    fails.extend(over)
    if fails:
        print()
        print("\n".join(fails))
        return 1
    print("\nok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
