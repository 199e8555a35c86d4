"""The MITP tables of stats.tables written by hand as raw SQL (issue 7, "Speed and memory").

The yardstick ``make bench`` compares ``stats.tables.compute_tables`` with: the same counts,
computed by independent SQL run through a bare cursor in the same process. Nothing here is
taken from the ORM (not its generated SQL, not stats/registers.py): the definitions are read
from docs/statistics.md and written again. Each register is one statement: its cases are
selected once (a materialised CTE), its victim links are joined to them once, and every
"earliest link per person" is a ``row_number()`` window over those links (one partition per
population: all victims, victims per link purpose, NNA links), reused by every table of the
population.

:func:`raw_counts` returns ``{(register, table_key): {(category, year): n}}`` with only the
non-zero counts; ``category`` is the table's row key (None for a table per year with one
measure; the measure's name, lower case, for ``imputados_por_anio``). :func:`table_counts`
turns a ``stats.tables.Table`` into the same shape, so the two can be compared table by table.
"""

from __future__ import annotations

import datetime

# register -> (date column of cases_case, only formalised cases, region by fiscalía regional)
CASE_REGISTERS_SQL = {
    "formalizadas": ("investigation_start_date", True, False),
    "identificadas": ("intake_date", False, True),
}
PURPOSE_FAMILIES = {"trata_sexual": "explotacion_sexual", "trata_laboral": "trabajo_forzoso"}
UNKNOWN = "sin_informacion"
GROUP = """CASE WHEN termination_type IN ('condenatoria', 'absolutoria', 'no_perseverar')
    THEN termination_type ELSE 'otros' END"""

CASE_REGISTER_SQL = """
WITH c AS MATERIALIZED (
    SELECT id, {date} AS d, extract(year FROM {date})::int AS year, status, termination_type,
           purpose, region_detected, fiscalia_regional
    FROM cases_case
    WHERE {date} BETWEEN %(start)s AND %(end)s {formalised}
),
links AS MATERIALIZED (
    SELECT cv.victim_id, cv.case_id, c.d, c.year, cv.is_minor, cv.age_status, cv.age_at_facts, v.sex,
           coalesce(nullif(v.nationality, ''), 'sin_informacion') AS nationality,
           CASE WHEN cv.purpose = 'sin_informacion' THEN c.purpose ELSE cv.purpose END AS purpose,
           {region} AS region,
           row_number() OVER (PARTITION BY cv.victim_id ORDER BY c.d, cv.case_id) AS rn_all,
           row_number() OVER (
               PARTITION BY cv.victim_id, CASE WHEN cv.purpose = 'sin_informacion' THEN c.purpose ELSE cv.purpose END
               ORDER BY c.d, cv.case_id
           ) AS rn_purpose,
           row_number() OVER (PARTITION BY cv.victim_id, cv.is_minor IS TRUE ORDER BY c.d, cv.case_id) AS rn_minor
    FROM victims_casevictim cv JOIN c ON c.id = cv.case_id JOIN victims_victim v ON v.id = cv.victim_id
),
firsts AS MATERIALIZED (
    SELECT year, purpose, region, is_minor, age_status, age_at_facts, sex, nationality, rn_all, rn_purpose, rn_minor
    FROM links WHERE rn_all = 1 OR rn_purpose = 1 OR (rn_minor = 1 AND is_minor)
),
victims AS MATERIALIZED (SELECT * FROM firsts WHERE rn_all = 1),
nna AS MATERIALIZED (SELECT * FROM firsts WHERE rn_minor = 1 AND is_minor),
offenders AS MATERIALIZED (
    SELECT co.offender_id, (array_agg(c.year ORDER BY c.d, co.case_id))[1] AS year,
           bool_or(co.is_formalised) AS formalised, bool_or(co.is_convicted) AS convicted
    FROM cases_caseoffender co JOIN c ON c.id = co.case_id
    GROUP BY co.offender_id
)
SELECT 'casos_por_anio', NULL, year, count(*) FROM c GROUP BY year
UNION ALL SELECT 'casos_por_estado', status, year, count(*) FROM c GROUP BY 2, 3
UNION ALL SELECT 'terminos_por_grupo', {group}, year, count(*) FROM c WHERE status = 'terminada' GROUP BY 2, 3
UNION ALL SELECT 'terminos_por_tipo', termination_type, year, count(*) FROM c WHERE status = 'terminada' GROUP BY 2, 3
UNION ALL SELECT 'victimas_por_anio', NULL, year, count(*) FROM victims GROUP BY year
UNION ALL SELECT 'victimas_por_fin', purpose, year, count(*) FROM victims GROUP BY 2, 3
UNION ALL SELECT 'victimas_por_sexo', sex, year, count(*) FROM victims GROUP BY 2, 3
UNION ALL SELECT 'victimas_por_nacionalidad', nationality, year, count(*) FROM victims GROUP BY 2, 3
UNION ALL SELECT 'victimas_por_region', region, year, count(*) FROM victims GROUP BY 2, 3
UNION ALL SELECT 'imputados_por_anio', 'imputados', year, count(*) FROM offenders GROUP BY year
UNION ALL SELECT 'imputados_por_anio', 'formalizados', year, count(*) FROM offenders WHERE formalised GROUP BY year
UNION ALL SELECT 'imputados_por_anio', 'condenados', year, count(*) FROM offenders WHERE convicted GROUP BY year
UNION ALL SELECT 'condenados_por_nacionalidad', coalesce(nullif(o.nationality, ''), 'sin_informacion'), f.year,
                 count(*)
          FROM offenders f JOIN cases_offender o ON o.id = f.offender_id WHERE f.convicted GROUP BY 2, 3
{purpose_tables}
UNION ALL SELECT 'nna_casos_por_anio', NULL, year, count(*) FROM c
          WHERE EXISTS (SELECT 1 FROM links l WHERE l.case_id = c.id AND l.is_minor) GROUP BY year
UNION ALL SELECT 'nna_victimas_por_anio', NULL, year, count(*) FROM nna GROUP BY year
UNION ALL SELECT 'nna_victimas_por_edad',
                 CASE WHEN age_status = 'menor_sin_edad' THEN 'edad_exacta_desconocida' ELSE age_at_facts::text END,
                 year, count(*)
          FROM nna GROUP BY 2, 3
UNION ALL SELECT 'nna_victimas_por_sexo', sex, year, count(*) FROM nna GROUP BY 2, 3
UNION ALL SELECT 'nna_victimas_por_fin', purpose, year, count(*) FROM nna GROUP BY 2, 3
UNION ALL SELECT 'victimas_por_condicion_nna',
                 CASE WHEN is_minor THEN 'nna' WHEN NOT is_minor THEN 'adulto' ELSE 'edad_desconocida' END,
                 year, count(*)
          FROM victims GROUP BY 2, 3
"""

PURPOSE_SQL = """
UNION ALL SELECT '{slug}_casos_por_anio', NULL, year, count(*) FROM c WHERE purpose = '{purpose}' GROUP BY year
UNION ALL SELECT '{slug}_victimas_por_anio', NULL, year, count(*) FROM firsts
          WHERE rn_purpose = 1 AND purpose = '{purpose}' GROUP BY year
UNION ALL SELECT '{slug}_victimas_por_sexo', sex, year, count(*) FROM firsts
          WHERE rn_purpose = 1 AND purpose = '{purpose}' GROUP BY 2, 3
UNION ALL SELECT '{slug}_casos_por_resultado',
                 CASE WHEN status = 'terminada' THEN {group} ELSE 'sin_termino' END, year, count(*)
          FROM c WHERE purpose = '{purpose}' GROUP BY 2, 3
"""

PROTOCOL_SQL = """
WITH entries AS MATERIALIZED (
    SELECT a.victim_id, extract(year FROM a.requested_on)::int AS year,
           row_number() OVER (PARTITION BY a.victim_id ORDER BY a.requested_on, a.created_at, a.id) AS rn
    FROM protocol_protocolactivation a
    WHERE a.requested_on BETWEEN %(start)s AND %(end)s
      AND EXISTS (SELECT 1 FROM protocol_protocoltransition t WHERE t.activation_id = a.id AND t.to_state = 'activa')
),
purposes AS (
    SELECT DISTINCT ON (victim_id) victim_id, purpose
    FROM (
        SELECT victim_id, purpose, count(*) AS n
        FROM (
            SELECT cv.victim_id,
                   CASE WHEN cv.purpose = 'sin_informacion' THEN c.purpose ELSE cv.purpose END AS purpose
            FROM victims_casevictim cv JOIN cases_case c ON c.id = cv.case_id
            WHERE cv.victim_id IN (SELECT victim_id FROM entries)
        ) links
        WHERE purpose <> 'sin_informacion'
        GROUP BY victim_id, purpose
    ) counted
    ORDER BY victim_id, n DESC, purpose
),
e AS MATERIALIZED (
    SELECT e.year, e.rn, coalesce(p.purpose, 'sin_informacion') AS purpose, v.sex,
           coalesce(nullif(v.nationality, ''), 'sin_informacion') AS nationality
    FROM entries e JOIN victims_victim v ON v.id = e.victim_id LEFT JOIN purposes p ON p.victim_id = e.victim_id
)
SELECT 'protocolo_ingresos_por_anio', 'ingresos', year, count(*) FROM e GROUP BY year
UNION ALL SELECT 'protocolo_ingresos_por_anio', 'personas', year, count(*) FROM e WHERE rn = 1 GROUP BY year
UNION ALL SELECT 'protocolo_ingresos_por_fin', purpose, year, count(*) FROM e WHERE rn = 1 GROUP BY 2, 3
UNION ALL SELECT 'protocolo_ingresos_por_sexo', sex, year, count(*) FROM e WHERE rn = 1 GROUP BY 2, 3
UNION ALL SELECT 'protocolo_ingresos_por_nacionalidad', nationality, year, count(*) FROM e WHERE rn = 1
          GROUP BY 2, 3
"""


def case_register_sql(register: str) -> str:
    date, only_formalised, by_fiscalia = CASE_REGISTERS_SQL[register]
    region = (
        "c.fiscalia_regional"
        if by_fiscalia
        else "CASE WHEN cv.region_detected = 'sin_informacion' THEN c.region_detected ELSE cv.region_detected END"
    )
    purpose_tables = "".join(
        PURPOSE_SQL.format(slug=slug, purpose=purpose, group=GROUP) for slug, purpose in PURPOSE_FAMILIES.items()
    )
    return CASE_REGISTER_SQL.format(
        date=date,
        formalised="AND is_formalised" if only_formalised else "",
        region=region,
        group=GROUP,
        purpose_tables=purpose_tables,
    )


STATEMENTS = {
    "formalizadas": case_register_sql("formalizadas"),
    "identificadas": case_register_sql("identificadas"),
    "protocolo": PROTOCOL_SQL,
}


def raw_counts(cursor, *, year_from: int, year_to: int) -> dict[tuple[str, str], dict[tuple[str | None, int], int]]:
    """Every table of the three registers, by (register, table key): its non-zero counts."""
    params = {"start": datetime.date(year_from, 1, 1), "end": datetime.date(year_to, 12, 31)}
    result: dict[tuple[str, str], dict[tuple[str | None, int], int]] = {}
    for register, statement in STATEMENTS.items():
        cursor.execute(statement, params)
        for key, category, year, n in cursor.fetchall():
            result.setdefault((register, key), {})[(category, year)] = n
    return result


def table_counts(table) -> dict[tuple[str | None, int], int]:
    """A stats.tables.Table's non-zero cells in the shape of :func:`raw_counts`."""
    counts: dict[tuple[str | None, int], int] = {}
    if table.row_header == "Año":  # a table per year: rows are years, columns the measures
        for row in table.rows:
            for column, n in zip(table.columns, row.counts, strict=True):
                if n:
                    category = None if len(table.columns) == 1 else column.lower()
                    counts[(category, int(row.key))] = n
    else:  # a table by category: columns are the years, then Total
        for row in table.rows:
            for column, n in zip(table.columns[:-1], row.counts[:-1], strict=True):
                if n:
                    counts[(row.key, int(column))] = n
    return counts


def differences(tables, raw: dict) -> list[str]:
    """Every table whose counts differ between ``compute_tables`` and the raw SQL (empty: equal).
    A table the raw SQL has no count for equals an empty (all-zero) table."""
    problems = []
    keys = {(table.register, table.key) for table in tables}
    for table in tables:
        expected = table_counts(table)
        got = raw.get((table.register, table.key), {})
        if expected != got:
            only_orm = {k: v for k, v in expected.items() if got.get(k) != v}
            only_raw = {k: v for k, v in got.items() if expected.get(k) != v}
            problems.append(f"{table.register}/{table.key}: ORM {only_orm} raw {only_raw}")
    for extra in sorted(set(raw) - keys):
        problems.append(f"{extra[0]}/{extra[1]}: in the raw SQL only")
    return problems
