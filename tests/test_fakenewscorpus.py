"""Acceptance on the shipped FakeNewsCorpus sample (250 real scraped articles)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from newsclean.tasks.pipeline.runner import BatchRun
from newsclean.tasks.schema import DEDUP_KEY_COLUMNS as KEY_COLUMNS
from newsclean.tasks.stages import minhash
from newsclean.tasks.stages.dedup import Documents, TableSketches, decide
from newsclean.tasks.storage.ingest import plan_units, read_unit
from tests.helpers import FAKENEWS, clean_batch

pytestmark = pytest.mark.unit


# Genuine body paragraphs that mention the words boilerplate rules look for (Facebook,
# Twitter, Reuters, source, headline, photograph, share, credit, click...): all must survive
# byte for byte.
MUST_SURVIVE = [
    "Strang, who was a guest on Fox & Friends this past Sunday, said that when then-candidate Trump began responding to his critics at all hours of the day and night on Twitter, he surprised and embarrassed a lot of his detractors, tweeting strongly worded comments no one had expected.",
    "Reuters reported Sunday that the company will soon file for bankruptcy, that its 1,100 employees might need to start looking for a new line of work. Those jobs were secure for years — the refinery was the largest oil refining complex on the East Coast.",
    'But in a recent statement posted to the group\'s Facebook page, treasurer Tom Bjorklund said the group had notified the Federal Election Commission that it would be shutting down the PAC by Sept. 25 due to the "miserable showing of the candidate in question."',
    "But the statement Tuesday follows news that a St. Louis prosecutor will investigate claims he took a nude photograph of the hairdresser to use as blackmail in order to keep the affair secret.",
    'Its most recent misstep occurred this week when its social media team tweeted this misleading headline: "Fact check: No, the Clintons were not paid millions by Russia."',
    "Aggravatingly enough, the headline that appears on Newsweek's website is evenhanded and reasonable. It reads simply, \"Did Russia Send Money to Bill Clinton's foundation like Trump says? Fact-checking the president's claim.\" It's the social media version of this headline that's atrocious.",
    "Human sources, communications intercepts and other intelligence have permitted analysts to piece together the details of some of the players, and the steps they took to harm Clinton’s candidacy while boosting Trump’s, officials stated.",
    "One source acquainted with the intelligence stated it incorporated profiles of some of the suspects with photographs, and could lead to inevitable indictments of specific Russian actors, if the Justice Department chooses to go after them.",
    "The CIA also tracked a campaign of anti-Clinton news reports amplified by social media, some of which came from Russian state media outlets, officials shared with NBC News.",
    'He also shared 2 Timothy 4 where the apostle Paul says, "the time for my departure is here."',
    "Only 2.82% of CBS fans gave Obama an A for overall job performance and CBS is no bastion of conservative readers",
    "In any event, knowledge is the key to success. To learn more about the status of the Iraqi oil industry and how it affects the Dinar, click below.",
    "Today’s central planners and social engineers are enlightened and progressive. They know much more about anything and everything than the rest of us. In particular, they share a general sense that they know how to spend your money better than you.",
    "At the moment, we’re in the rug yank phase of the Fed’s monetary policy. This is where they reel back credit ever so slightly after letting it run wild over the last decade. This tightening of credit markets has the effect of pulling the rug out from under financial markets and the economy.",
    "A nation’s economy, as well as the value of its currency, depends on its natural resources. Iraq’s exceptionally large oil reserves are like “money in the bank,” available to meet the young democracy’s needs as it continues to grow.",
    "“Congress has been unable to bridge the gap between those who see a new AUMF as primarily an opportunity to limit the president and those who believe constraining the commander in chief in wartime is unwise,” Senate Foreign Relations Chairman Bob Corker, R-Tenn., said during a recent hearing.",
    "The conversation, described by Trump as “the worst call by far,” concerned a refugee swap agreement worked out by former President Obama.",
    '"If it\'s so important to cut off the oil shipments, the critical revenue source for ISIS, why did it take so long to take out 116 oil tanker trucks?" a reporter asked.',
    'The project is called TERRA, or "Transportation Energy Resources from Renewable Agriculture," and features researchers "building robots armed with cutting-edge sensors to collect data on plant characteristics" to improve the harvest of biofuels.',
    'President Trump recently handed out the 2017 "Fake News Awards" for the 11 most irresponsible examples of reporting. And the headlines, ranging from ice cream to pecan pie, bordered on—if not crossed—the ridiculous. Trump\'s "favorite" media outlet, CNN, garnered four of the awards.',
    "Wolff's new book on Trump has been called into question by the White House and reporters for errors throughout his story. However, the author maintained the tell-all book is accurate and that he has proof of his interviews with a few hundred sources.",
    "“In this way, I would like to contribute to our shared commitment to stemming the spread of fake news and to rediscovering the dignity of journalism and the personal responsibility of journalists to communicate the truth.”",
]


@pytest.fixture(scope="module")
def cleaned() -> BatchRun:
    raw = FAKENEWS.parent
    (unit,) = plan_units(raw).units
    batches = list(read_unit(Path(raw), unit))
    assert len(batches) == 1
    docs, quarantine = batches[0]
    assert docs.num_rows == 250 and quarantine.num_rows == 0
    return clean_batch(docs)


@pytest.fixture(scope="module")
def raw_lines() -> set[str]:
    df = pd.read_csv(FAKENEWS)
    return {line.strip() for text in df.content.dropna() for line in text.split("\n")}


def _paragraphs(out: BatchRun) -> set[str]:
    return {p for text in out.docs.column("text").to_pylist() for p in text.split("\n\n")}


@pytest.mark.parametrize("line", MUST_SURVIVE)
def test_genuine_lines_survive_untouched(cleaned: BatchRun, raw_lines: set[str], line: str) -> None:
    assert line in raw_lines, "test data must be real corpus text"
    assert line in _paragraphs(cleaned)


def test_must_survive_list_is_long_enough() -> None:
    assert len(MUST_SURVIVE) >= 20


def test_recurring_ad_and_reader_poll_gone(cleaned: BatchRun) -> None:
    texts = "\n".join(cleaned.docs.column("text").to_pylist())
    assert "Bitcoin & Blockchain Searches Exceed Trump" not in texts
    assert "% of readers think this story is" not in texts
    assert "Subscribe to Canada Free Press for FREE" not in texts
    assert "Please adhere to our commenting policy" not in texts
    rules = cleaned.edits.column("rule").to_pylist()
    assert rules.count("ad.beforeitsnews-headline/1") == 130
    assert rules.count("promo.reader-poll/1") == 48


def test_eleven_redundant_exact_copies(cleaned: BatchRun) -> None:
    config = minhash.default_config()
    docs = cleaned.docs
    sketch = minhash.sketch_batch(docs["doc_id"].combine_chunks(), docs["text"], config)
    no_index = TableSketches.empty(config)
    decision = decide(Documents(docs.select(KEY_COLUMNS), sketch), no_index, config)
    duplicates = decision.duplicates
    assert duplicates.num_rows >= 11
    kept = set(duplicates.column("kept_doc_id").to_pylist())
    assert kept.isdisjoint(duplicates.column("doc_id").to_pylist())


def test_no_document_loses_all_text(cleaned: BatchRun) -> None:
    assert cleaned.quarantine.num_rows == 0
    assert cleaned.docs.num_rows == 250
