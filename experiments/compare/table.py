"""Prints the cross-environment table of experiments/README.md from the
summary.json files that `dream compare` wrote under experiments/compare/.

    python3 experiments/compare/table.py experiments/compare/*/summary.json
"""
import json
import sys


def num(x):
    if x is None:
        return "–"
    a = abs(x)
    if a != 0 and a < 1e-3:
        return f"{x:.2g}"
    if a >= 100:
        return f"{x:.0f}"
    return f"{x:.3g}"


def ci(v):
    return f"{num(v['mean'])} [{num(v['lo'])}, {num(v['hi'])}]"


def main(paths):
    print("| experiment | dynamics | final return | AUC | steps to threshold (reached) | NLL/dim | 1σ | 2σ | ECE | AUC vs deterministic: Welch p |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for path in paths:
        s = json.load(open(path))
        name = path.split("/")[-2]
        pvals = {}
        for c in s.get("comparisons") or []:
            if "deterministic" in (c["a"], c["b"]):
                other = c["b"] if c["a"] == "deterministic" else c["a"]
                pvals[other] = c["welch"]["p"] if c.get("testable") else None
        for d in s["dynamics"]:
            st = d["steps_to_threshold"]
            steps = "–"
            if st["reached"]:
                steps = f"{ci(st['steps'])} ({st['reached']}/{st['reached'] + st['not_reached']})"
            else:
                steps = f"– (0/{st['not_reached']})"
            c = d["calibration"]
            p = pvals.get(d["name"])
            print(f"| {name} | {d['name']} | {ci(d['final_return'])} | {ci(d['auc'])} | {steps} | "
                  f"{num(c['nll_per_dim'])} | {num(c['within_1sigma'])} | {num(c['within_2sigma'])} | {num(c['ece'])} | "
                  f"{'–' if p is None else num(p)} |")


if __name__ == "__main__":
    main(sys.argv[1:])
