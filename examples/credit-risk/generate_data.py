"""Deterministic synthetic loan applications for the credit-risk demo.

Writes ``data/applications.csv`` (training data, 50k rows by default) and
``data/new_batch.csv`` (a later batch whose distributions drifted). Rows carry
personal data (names, emails, phones, SSNs, card numbers, addresses, dates of birth)
next to numeric and categorical features and a ``default`` label. Two things are
planted on purpose so the demo's gates have something to find:

* bias: at equal risk, applicants with ``gender == "F"`` were labelled as defaults
  more often (a historical labelling bias the fairness check should surface);
* drift: in the new batch incomes fall, credit scores spread out, a new loan purpose
  (``crypto``) appears and ``education`` loans disappear.

Faker and NumPy are seeded, so the same command always writes the same bytes.
"""

from __future__ import annotations

import argparse
import csv
from datetime import date, timedelta
from pathlib import Path

import numpy as np
from faker import Faker

PURPOSES = ["debt_consolidation", "home_improvement", "car", "education", "medical", "business"]
HOME = ["RENT", "OWN", "MORTGAGE"]
STATES = ["CA", "TX", "NY", "FL", "IL", "PA", "OH", "GA", "NC", "MI"]
COLUMNS = [
    "application_id",
    "first_name",
    "last_name",
    "email",
    "phone",
    "ssn",
    "card_number",
    "street_address",
    "city",
    "state",
    "zip_code",
    "date_of_birth",
    "application_date",
    "gender",
    "age",
    "income",
    "loan_amount",
    "term_months",
    "credit_score",
    "debt_to_income",
    "employment_years",
    "home_ownership",
    "purpose",
    "default",
]


def generate(rows: int, seed: int, *, drifted: bool = False, start_id: int = 1) -> list[dict[str, object]]:
    """Return ``rows`` applications; ``drifted`` shifts the distributions."""
    fake = Faker("en_US")
    fake.seed_instance(seed)
    rng = np.random.default_rng(seed)
    today = date(2026, 6, 1) if not drifted else date(2026, 10, 1)
    ages = rng.integers(21, 75, rows)
    gender = rng.choice(["F", "M"], rows)
    income = rng.lognormal(np.log(62_000), 0.45, rows)
    score = rng.normal(690, 55, rows)
    purposes = PURPOSES
    purpose_p = [0.35, 0.2, 0.15, 0.1, 0.1, 0.1]
    if drifted:
        income = income * 0.72
        score = 690 + (score - 690) * 1.8
        purposes = [p for p in PURPOSES if p != "education"] + ["crypto"]
        purpose_p = [0.3, 0.15, 0.15, 0.1, 0.1, 0.2]
    score = np.clip(score, 300, 850).round()
    loan = np.clip(rng.lognormal(np.log(15_000), 0.6, rows), 1_000, 100_000).round(-2)
    dti = np.clip(rng.beta(2, 5, rows) * 0.8 + loan / income / 10, 0, 1.5).round(3)
    employment = np.clip(rng.exponential(6, rows), 0, ages - 18).round(1)
    term = rng.choice([36, 60], rows, p=[0.7, 0.3])
    home = rng.choice(HOME, rows, p=[0.4, 0.2, 0.4])
    purpose = rng.choice(purposes, rows, p=purpose_p)
    # True risk depends on the features only ...
    logit = -1.2 - (score - 690) / 45 + (dti - 0.3) * 3 - np.log(income / 62_000) + (term == 60) * 0.4
    risk = 1 / (1 + np.exp(-logit))
    # ... but historical labels were biased against one group.
    biased = np.where(gender == "F", np.minimum(risk * 1.6 + 0.04, 1.0), risk)
    label = (rng.random(rows) < biased).astype(int)
    # Faker is slow per call, so draw pools once and sample them with the seeded RNG.
    pool = 4_000
    female = [fake.first_name_female() for _ in range(pool)]
    male = [fake.first_name_male() for _ in range(pool)]
    lasts = [fake.last_name() for _ in range(pool)]
    streets = [fake.street_address() for _ in range(pool)]
    cities = [fake.city() for _ in range(pool)]
    zips = [fake.zipcode() for _ in range(pool)]
    domains = [fake.free_email_domain() for _ in range(50)]
    pick = rng.integers(0, pool, (rows, 5))
    ssns = _ssns(rng, rows)
    cards = _visa_numbers(rng, rows)
    phones = [
        f"({a}) {b}-{c:04d}"
        for a, b, c in zip(
            rng.integers(201, 990, rows),
            rng.integers(200, 1000, rows),
            rng.integers(0, 10_000, rows),
            strict=True,
        )
    ]
    dob_days = (ages * 365.25 + rng.integers(0, 365, rows)).astype(int)
    applied_days = rng.integers(0, 180, rows)
    email_suffix = rng.integers(1, 999, rows)
    email_domain = rng.integers(0, len(domains), rows)
    out = []
    for i in range(rows):
        first = female[pick[i, 0]] if gender[i] == "F" else male[pick[i, 0]]
        last = lasts[pick[i, 1]]
        out.append(
            {
                "application_id": f"APP-{start_id + i:07d}",
                "first_name": first,
                "last_name": last,
                "email": f"{first}.{last}{email_suffix[i]}@{domains[email_domain[i]]}".lower(),
                "phone": phones[i],
                "ssn": ssns[i],
                "card_number": cards[i],
                "street_address": streets[pick[i, 2]],
                "city": cities[pick[i, 3]],
                "state": STATES[int(pick[i, 4]) % len(STATES)],
                "zip_code": zips[pick[i, 4]],
                "date_of_birth": (today - timedelta(days=int(dob_days[i]))).isoformat(),
                "application_date": (today - timedelta(days=int(applied_days[i]))).isoformat(),
                "gender": gender[i],
                "age": int(ages[i]),
                "income": round(float(income[i]), 2),
                "loan_amount": float(loan[i]),
                "term_months": int(term[i]),
                "credit_score": int(score[i]),
                "debt_to_income": float(dti[i]),
                "employment_years": float(employment[i]),
                "home_ownership": home[i],
                "purpose": purpose[i],
                "default": int(label[i]),
            }
        )
    return out


def _ssns(rng: np.random.Generator, rows: int) -> list[str]:
    """Valid-looking US SSNs (area 001-899 but not 666, group and serial non-zero)."""
    area = rng.integers(1, 900, rows)
    area = np.where(area == 666, 667, area)
    group = rng.integers(1, 100, rows)
    serial = rng.integers(1, 10_000, rows)
    return [f"{a:03d}-{g:02d}-{s:04d}" for a, g, s in zip(area, group, serial, strict=True)]


def _visa_numbers(rng: np.random.Generator, rows: int) -> list[str]:
    """16-digit Visa numbers with a correct Luhn check digit."""
    digits = rng.integers(0, 10, (rows, 15))
    digits[:, 0] = 4
    # Luhn: double every second digit from the right of the full 16-digit number,
    # i.e. positions 0, 2, 4, ... of the 15-digit payload.
    doubled = digits.copy()
    doubled[:, 0::2] *= 2
    doubled = np.where(doubled > 9, doubled - 9, doubled)
    check = (10 - doubled.sum(axis=1) % 10) % 10
    full = np.concatenate([digits, check[:, None]], axis=1)
    return ["".join(map(str, row)) for row in full]


def write_csv(path: Path, rows: list[dict[str, object]]) -> None:
    """Write rows with a fixed column order."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--new-rows", type=int, default=10_000)
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("data"))
    parser.add_argument("--seed", type=int, default=20261128)
    args = parser.parse_args()
    write_csv(args.out / "applications.csv", generate(args.rows, args.seed))
    write_csv(
        args.out / "new_batch.csv",
        generate(args.new_rows, args.seed + 1, drifted=True, start_id=args.rows + 1),
    )
    print(f"wrote {args.rows} applications and a drifted batch of {args.new_rows} to {args.out}")


if __name__ == "__main__":
    main()
