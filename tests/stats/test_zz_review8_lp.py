"""Review 8: joint attack on a whole register's published tables (simulated single-link worlds).

Tables are built with the real stats.tables helpers from a random world where each victim and each
offender is linked to one case (so the attacker's identities hold exactly), published with
stats.publication.publish_tables, and attacked with an LP: equalities (additivity, shared totals,
group = sum of types, near-links) and inequalities (sub-populations <= parents), hidden >= 1,
integrality by ceil/floor of the LP bounds."""

from __future__ import annotations

import math
import random

import numpy
from scipy.optimize import linprog

from cases.constants import TERMINATION_GROUP, CaseStatus, TerminationGroup, TerminationType, TraffickingPurpose
from kernel.choices import Region, Sex
from stats.publication import PublicationSettings, publish_tables
from stats.tables import NO_TERMINATION, _nationality_table, category_table, year_table

CFG = PublicationSettings(mode="supresion", threshold=5)
REG = "formalizadas"
NATS = ["BO", "PE", "VE", "CO", "HT", ""]
PURPOSES = [p.value for p in TraffickingPurpose]


def group_of(t):
    return TERMINATION_GROUP.get(t, TerminationGroup.OTHER).value


def world(rng, years, n_cases, n_victims, n_offenders, status_w=(1, 1, 1)):
    cases = []
    for _ in range(n_cases):
        status = rng.choices([CaseStatus.CLOSED, CaseStatus.SUSPENDED, CaseStatus.OPEN], weights=status_w)[0].value
        term = rng.choice(list(TerminationType)).value if status == "terminada" else None
        cases.append(
            {
                "year": rng.choice(years),
                "status": status,
                "term": term,
                "purpose": rng.choices(PURPOSES, weights=[5, 3, 1, 1])[0],
            }
        )
    victims = []
    for _ in range(n_victims):
        c = rng.randrange(n_cases)
        cond = rng.choices(["nna", "adulto", "edad_desconocida"], weights=[3, 5, 1])[0]
        age = None
        if cond == "nna":
            age = rng.choice([-1, 12, 15, 16, 17])
        victims.append(
            {
                "case": c,
                "sex": rng.choice([s.value for s in Sex]),
                "nat": rng.choice(NATS),
                "region": rng.choice([Region.METROPOLITANA.value, Region.TARAPACA.value, Region.UNKNOWN.value]),
                "cond": cond,
                "age": age,
            }
        )
    offenders = []
    for _ in range(n_offenders):
        c = rng.randrange(n_cases)
        f = rng.random() < 0.6
        offenders.append({"case": c, "formalised": f, "convicted": f and rng.random() < 0.5, "nat": rng.choice(NATS)})
    return cases, victims, offenders


def cnt(items, key):
    out = {}
    for it in items:
        k = key(it)
        out[k] = out.get(k, 0) + 1
    return out


def tables_of(cases, victims, offenders, years):
    yrs = range(years[0], years[-1] + 1)
    common = {"register": REG, "years": yrs}

    def cat(key, choices, counts):
        return category_table(key=key, family=0, title=key, row_header="x", categories=choices, counts=counts, **common)

    def py(key, counts, columns=("n",), with_percentages=True):
        return year_table(
            key=key, family=0, title=key, columns=list(columns), counts=counts, with_percentages=with_percentages, **common
        )

    def nat(key, counts):
        return _nationality_table(key=key, family=0, title=key, counts=counts, **common)

    vy = lambda v: cases[v["case"]]["year"]  # noqa: E731
    closed = [c for c in cases if c["status"] == "terminada"]
    out = [
        py("casos_por_anio", cnt(cases, lambda c: c["year"])),
        cat("casos_por_estado", [("terminada", "T"), ("suspendida", "S"), ("vigente", "V")], cnt(cases, lambda c: (c["status"], c["year"]))),
        cat("terminos_por_grupo", [(g.value, g.label) for g in TerminationGroup], cnt(closed, lambda c: (group_of(c["term"]), c["year"]))),
        cat("terminos_por_tipo", [(t.value, t.label) for t in TerminationType], cnt(closed, lambda c: (c["term"], c["year"]))),
        py("victimas_por_anio", cnt(victims, vy)),
        cat("victimas_por_fin", TraffickingPurpose.choices, cnt(victims, lambda v: (cases[v["case"]]["purpose"], vy(v)))),
        cat("victimas_por_sexo", Sex.choices, cnt(victims, lambda v: (v["sex"], vy(v)))),
        nat("victimas_por_nacionalidad", cnt(victims, lambda v: (v["nat"], vy(v)))),
        cat("victimas_por_region", Region.choices, cnt(victims, lambda v: (v["region"], vy(v)))),
    ]
    oy = lambda o: cases[o["case"]]["year"]  # noqa: E731
    per = {}
    for o in offenders:
        row = per.setdefault(oy(o), [0, 0, 0])
        row[0] += 1
        row[1] += o["formalised"]
        row[2] += o["convicted"]
    out += [
        py("imputados_por_anio", per, columns=("Imputados", "Formalizados", "Condenados"), with_percentages=False),
        nat("condenados_por_nacionalidad", cnt([o for o in offenders if o["convicted"]], lambda o: (o["nat"], oy(o)))),
    ]
    outcomes = [(g.value, g.label) for g in TerminationGroup] + [(NO_TERMINATION, "Sin término")]
    for slug, purpose in (("trata_sexual", "explotacion_sexual"), ("trata_laboral", "trabajo_forzoso")):
        pc = [c for c in cases if c["purpose"] == purpose]
        pv = [v for v in victims if cases[v["case"]]["purpose"] == purpose]
        out += [
            py(f"{slug}_casos_por_anio", cnt(pc, lambda c: c["year"])),
            py(f"{slug}_victimas_por_anio", cnt(pv, vy)),
            cat(f"{slug}_victimas_por_sexo", Sex.choices, cnt(pv, lambda v: (v["sex"], vy(v)))),
            cat(
                f"{slug}_casos_por_resultado",
                outcomes,
                cnt(pc, lambda c: (group_of(c["term"]) if c["status"] == "terminada" else NO_TERMINATION, c["year"])),
            ),
        ]
    nv = [v for v in victims if v["cond"] == "nna"]
    nna_cases = {v["case"] for v in nv}
    ages = [(a, str(a)) for a in range(18)] + [(-1, "desconocida")]
    out += [
        py("nna_casos_por_anio", cnt([cases[i] for i in nna_cases], lambda c: c["year"])),
        py("nna_victimas_por_anio", cnt(nv, vy)),
        cat("nna_victimas_por_edad", ages, cnt(nv, lambda v: (v["age"], vy(v)))),
        cat("nna_victimas_por_sexo", Sex.choices, cnt(nv, lambda v: (v["sex"], vy(v)))),
        cat("nna_victimas_por_fin", TraffickingPurpose.choices, cnt(nv, lambda v: (cases[v["case"]]["purpose"], vy(v)))),
        cat(
            "victimas_por_condicion_nna",
            [("nna", "NNA"), ("adulto", "A"), ("edad_desconocida", "D")],
            cnt(victims, lambda v: (v["cond"], vy(v))),
        ),
    ]
    return [t.as_dict() for t in out]


class Attack:
    def __init__(self, published, raw):
        self.pub = {t.key: t for t in published}
        self.raw = {t["key"]: t for t in raw}
        self.names: dict = {}
        self.truth: dict = {}
        self.eq: list = []
        self.ub: list = []

    def term(self, name, value, true):
        if value is None:
            if name not in self.names:
                self.names[name] = len(self.names)
                self.truth[name] = true
            return (name, 0)
        return (None, value)

    # vectors: list of terms; a category table row label -> [cells..., total]
    def cat(self, key):
        t = self.pub[key]
        raw = self.raw[key]
        rawrows = {r["label"]: r["counts"] for r in raw["rows"]}
        rows = {}
        cells_all = []
        for label, cells, total, _p in t.rows:
            rc = rawrows.get(label)
            if rc is None:  # folded «Otras»
                rc = [None] * (len(cells) + 1)
            line = [self.term((key, label, y), v, rc[y]) for y, v in enumerate(cells)]
            tot = self.term((key, label, "T"), total, rc[-1])
            self.add_eq(line, [tot])
            rows[label] = [*line, tot]
            cells_all.append(line)
        rawtot = raw["totals"]
        totals = [self.term((key, "TOT", y), v, rawtot[y]) for y, v in enumerate(t.totals)]
        grand = self.term((key, "TOT", "T"), t.grand_total, rawtot[-1])
        for y, tt in enumerate(totals):
            self.add_eq([line[y] for line in cells_all], [tt])
        self.add_eq([r[-1] for r in rows.values()], [grand])
        self.add_eq(totals, [grand])
        rows["__total__"] = [*totals, grand]
        return rows

    def per(self, key, measure=0):
        t = self.pub[key]
        raw = self.raw[key]
        line = [self.term((key, m_label(t, measure), y), r[1][measure], raw["rows"][y]["counts"][measure]) for y, r in enumerate(t.rows)]
        tot = self.term((key, m_label(t, measure), "T"), t.totals[measure], raw["totals"][measure])
        self.add_eq(line, [tot])
        return [*line, tot]

    def add_eq(self, left, right):
        self.eq.append((left, right))

    def add_le(self, left, right):
        self.ub.append((left, right))

    def same(self, a, b):
        for x, y in zip(a, b, strict=True):
            self.add_eq([x], [y])

    def _row(self, left, right):
        line = numpy.zeros(len(self.names))
        rhs = 0.0
        for name, value in left:
            if name is None:
                rhs -= value
            else:
                line[self.names[name]] += 1
        for name, value in right:
            if name is None:
                rhs += value
            else:
                line[self.names[name]] -= 1
        return line, rhs

    def pinned(self):
        n = len(self.names)
        if not n:
            return []
        a_eq, b_eq, a_ub, b_ub = [], [], [], []
        for left, right in self.eq:
            line, rhs = self._row(left, right)
            if line.any():
                a_eq.append(line)
                b_eq.append(rhs)
            else:
                assert abs(rhs) < 1e-9, (left, right)
        for left, right in self.ub:
            line, rhs = self._row(left, right)
            if line.any():
                a_ub.append(line)
                b_ub.append(rhs)
            else:
                assert rhs >= -1e-9, (left, right)
        found = []
        for name, k in self.names.items():
            ends = []
            for sign in (1, -1):
                obj = numpy.zeros(n)
                obj[k] = sign
                res = linprog(
                    obj,
                    A_eq=a_eq or None,
                    b_eq=b_eq or None,
                    A_ub=a_ub or None,
                    b_ub=b_ub or None,
                    bounds=[(1, None)] * n,
                    method="highs",
                )
                assert res.status in (0, 3), res.message
                ends.append(None if res.status == 3 else sign * res.fun)
            lo = math.ceil(ends[0] - 1e-6)
            hi = None if ends[1] is None else math.floor(ends[1] + 1e-6)
            if hi is not None and lo == hi:
                found.append((name, lo, self.truth[name]))
        return found


def m_label(t, measure):
    return t.columns[measure]


def attack(raw, published, strict=True, only=None):
    """strict: only identities that hold by definition for every data set."""
    a = Attack(published, raw)
    cy = a.per("casos_por_anio")
    est = a.cat("casos_por_estado")
    a.same(est["__total__"], cy)
    grp = a.cat("terminos_por_grupo")
    tipo = a.cat("terminos_por_tipo")
    term = est["T"]
    a.same(grp["__total__"], term)
    a.same(tipo["__total__"], term)
    labels = {t.value: t.label for t in TerminationType}
    glabels = {g.value: g.label for g in TerminationGroup}
    if only is None or "groups" in only:
        for g in TerminationGroup:
            types = [t for t in TerminationType if group_of(t) == g.value]
            for pos in range(len(cy)):
                a.add_eq([tipo[str(labels[t.value])][pos] for t in types], [grp[str(glabels[g.value])][pos]])
    vy = a.per("victimas_por_anio")
    fin = a.cat("victimas_por_fin")
    sexo = a.cat("victimas_por_sexo")
    cond = None
    for key in ("victimas_por_fin", "victimas_por_sexo", "victimas_por_nacionalidad", "victimas_por_region", "victimas_por_condicion_nna"):
        rows = fin if key == "victimas_por_fin" else sexo if key == "victimas_por_sexo" else a.cat(key)
        if key == "victimas_por_condicion_nna":
            cond = rows
        a.same(rows["__total__"], vy)
    imp = a.per("imputados_por_anio", 0)
    form = a.per("imputados_por_anio", 1)
    conv = a.per("imputados_por_anio", 2)
    if only is None or "offenders" in only:
        for x, y, z in zip(imp, form, conv, strict=True):
            a.add_le([y], [x])
            a.add_le([z], [x])
    a.same(a.cat("condenados_por_nacionalidad")["__total__"], conv)
    plabels = dict(TraffickingPurpose.choices)
    slabels = dict(Sex.choices)
    outcome_rows, sex_rows, case_rows, victim_rows = {}, {}, {}, {}
    for slug, purpose in (("trata_sexual", "explotacion_sexual"), ("trata_laboral", "trabajo_forzoso")):
        pcy = a.per(f"{slug}_casos_por_anio")
        case_rows[slug] = pcy
        res = a.cat(f"{slug}_casos_por_resultado")
        a.same(res["__total__"], pcy)
        outcome_rows[slug] = res
        pvy = a.per(f"{slug}_victimas_por_anio")
        victim_rows[slug] = pvy
        ps = a.cat(f"{slug}_victimas_por_sexo")
        a.same(ps["__total__"], pvy)
        sex_rows[slug] = ps
        if not strict:
            a.same(fin[str(plabels[purpose])], pvy)  # single-link world: exact
        elif only is None or "subpop" in only:
            a.add_le([fin[str(plabels[purpose])][-1]], [pvy[-1]])  # any link vs earliest link
            for lab in slabels.values():
                a.add_le([ps[str(lab)][-1]], [sexo[str(lab)][-1]])
    # definitional inequalities: cases have one purpose and one status
    if only is None or "cases" in only:
        for pos in range(len(cy)):
            a.add_le([case_rows["trata_sexual"][pos], case_rows["trata_laboral"][pos]], [cy[pos]])
            for g in TerminationGroup:
                lab = str(glabels[g.value])
                a.add_le([outcome_rows["trata_sexual"][lab][pos], outcome_rows["trata_laboral"][lab][pos]], [grp[lab][pos]])
            a.add_le(
                [outcome_rows["trata_sexual"]["Sin término"][pos], outcome_rows["trata_laboral"]["Sin término"][pos]],
                [est["S"][pos], est["V"][pos]],
            )
    ncy = a.per("nna_casos_por_anio")
    nvy = a.per("nna_victimas_por_anio")
    if not strict:
        a.same(cond["NNA"], nvy)
    elif only is None or "subpop" in only:
        a.add_le([cond["NNA"][-1]], [nvy[-1]])
    for key in ("nna_victimas_por_edad", "nna_victimas_por_sexo", "nna_victimas_por_fin"):
        rows = a.cat(key)
        a.same(rows["__total__"], nvy)
        if key == "nna_victimas_por_sexo" and (only is None or "subpop" in only):
            for lab in slabels.values():
                a.add_le([rows[str(lab)][-1]], [sexo[str(lab)][-1]])
    if only is None or "cases" in only:
        for pos in range(len(cy)):
            a.add_le([ncy[pos]], [cy[pos]])
    return a.pinned()


def run(seed, years=(2021, 2022, 2023), strict=True, only=None, **kw):
    rng = random.Random(seed)
    cases, victims, offenders = world(rng, list(years), **kw)
    raw = tables_of(cases, victims, offenders, list(years))
    published = publish_tables(raw, CFG)
    return attack(raw, published, strict=strict, only=only)


def test_search():
    hits = []
    for seed in range(60):
        rng = random.Random(10_000 + seed)
        kw = {
            "n_cases": rng.randint(1, 12),
            "n_victims": rng.randint(1, 25),
            "n_offenders": rng.randint(0, 10),
        }
        found = run(seed, **kw)
        if found:
            hits.append((seed, kw, found[:6]))
    for h in hits:
        print(h)
    assert not hits


def test_probe(only=None):
    import os
    only = os.environ.get("ONLY")
    only = set(only.split(",")) if only else set()
    hits = 0
    for seed in range(int(os.environ.get("N", "30"))):
        rng = random.Random(10_000 + seed)
        kw = {"n_cases": rng.randint(1, 12), "n_victims": rng.randint(1, 25), "n_offenders": rng.randint(0, 10)}
        found = run(seed, only=only, **kw)
        if found:
            hits += 1
            print(seed, kw, found[:4])
    print("hits", hits)


def test_probe_extra():
    import os
    extra = os.environ.get("EXTRA", "groups")
    hits = 0
    for seed in range(int(os.environ.get("N", "30"))):
        rng = random.Random(20_000 + seed)
        kw = {"n_cases": rng.randint(3, 30), "n_victims": rng.randint(5, 60), "n_offenders": rng.randint(0, 20)}
        base = {n for n, _v, _t in run(seed, only=set(), **kw)}
        more = run(seed, only={extra}, **kw) if extra != "loose" else run(seed, strict=False, only=set(), **kw)
        new = [x for x in more if x[0] not in base]
        if new:
            hits += 1
            print(seed, kw, len(base), new[:4])
    print("hits", hits)
