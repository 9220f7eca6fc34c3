"""The passage strategy of the extractive generator: passage-level support, headings as context,
step lists for procedural questions, and refusals when the context lacks the answer."""

from __future__ import annotations

import pytest

from motadata_ai.adapters.local.extractive import (
    DEFAULT_MIN_SUPPORT,
    NOT_FOUND,
    ExtractiveGenerator,
    content_terms,
    is_procedural,
    split_prose,
)
from motadata_ai.domain.values.passages import Passage, format_passages, parse_passages

# Passages as the RAG context builder writes them: headings lead into the text under them
# ("Heading: first sentence"), list items are sentences, whitespace collapsed to one line.
AUTHENTICATOR = Passage(
    index=1,
    title="Authenticator app",
    text="Every account signs in with a password and a second factor from the authenticator app. "
    "Enrol a new phone: Sign in to the security page from your laptop. "
    "Choose **Add method**, then scan the QR code with the app. "
    "Approve the test notification. "
    "Remove the old phone from the list. "
    "Lost phone: If you lost the phone, call the help line on extension 100. "
    "The agent issues a one-day pass that you use to enrol the new phone. "
    "Report a lost company phone as an incident as well.",
)
REMOTE = Passage(
    index=2,
    title="Remote access",
    text="The tunnel client connects your laptop to internal systems from home or hotels. "
    "Cloud mail works without it. "
    "Connect: Open the **Tunnel** client from the system tray. "
    "Choose the gateway nearest to you: Europe, Americas or Asia. "
    "Sign in with your username and approve the prompt. "
    "Troubleshooting: **Drops every few minutes**: update the client from the software portal and restart. "
    "**Cannot reach the gateway**: check that you have internet access first.",
)
PRINTING = Passage(
    index=3,
    title="Printing",
    text="Printers on floor 3 use HP-300 toner cartridges. "
    "Toner rules: Order toner from the service catalog when the display warns. "
    "Paper: Facilities refill the paper trays on request.",
)
CONTACT = Passage(
    index=4,
    title="Contacting the help desk",
    text="Contacting the help desk The help desk is the single point of contact. "
    "Phone: extension 100, staffed 24 hours a day for outages. "
    "Chat: the IT Help channel, 08:00 to 18:00 on business days.",
)
ALL = [AUTHENTICATOR, REMOTE, PRINTING, CONTACT]


@pytest.fixture
def generator() -> ExtractiveGenerator:
    return ExtractiveGenerator()


# --- procedural questions get the steps ------------------------------------------------------------


def test_a_how_to_question_gets_the_steps_under_the_matching_heading(generator: ExtractiveGenerator) -> None:
    answer = generator.answer("How do I set up the authenticator on a new phone?", ALL)
    assert answer.found
    lines = answer.text.splitlines()
    assert lines[0] == "Enrol a new phone:"
    assert lines[1] == "1. Sign in to the security page from your laptop."
    assert lines[2].startswith("2. Choose **Add method**")
    assert lines[4] == "4. Remove the old phone from the list. [1]"
    assert "lost" not in answer.text.lower()  # the next heading ends the steps
    assert answer.citations == (1,)
    assert [s.text for s in answer.sentences][:1] == ["Sign in to the security page from your laptop."]


def test_steps_are_bounded_by_max_steps() -> None:
    answer = ExtractiveGenerator(max_steps=2).answer("How do I enrol a new phone?", [AUTHENTICATOR])
    assert answer.text.splitlines() == [
        "Enrol a new phone:",
        "1. Sign in to the security page from your laptop.",
        "2. Choose **Add method**, then scan the QR code with the app. [1]",
    ]


def test_the_best_sentence_is_followed_by_the_steps_after_it(generator: ExtractiveGenerator) -> None:
    # The intro sentence matches the question best; the steps right after it (which name the
    # tunnel client too) follow it.
    answer = generator.answer("How do I reach internal systems from a hotel through the tunnel?", ALL)
    lines = answer.text.splitlines()
    assert lines[0].startswith("The tunnel client connects your laptop to internal systems from home")
    assert lines[0].endswith("[2]")
    assert lines[1] == "Connect:"
    assert lines[2] == "1. Open the **Tunnel** client from the system tray."
    assert lines[3] == "2. Choose the gateway nearest to you: Europe, Americas or Asia."  # not a heading
    assert lines[4].startswith("3. Sign in with your username")
    assert "Troubleshooting" not in answer.text and "Drops" not in answer.text


def test_unrelated_steps_do_not_follow_the_best_sentence(generator: ExtractiveGenerator) -> None:
    passage = Passage(
        index=1,
        title="Phishing",
        text="Warning signs: Requests to change bank details or buy gift cards. "
        "Links whose address does not match the text. "
        "How to report: Use the Report button in the mail client. Do not forward the message.",
    )
    answer = generator.answer("How do I spot gift card requests in the mail?", [passage])
    assert answer.found
    assert answer.text.startswith("Requests to change bank details or buy gift cards. [1]")
    assert "Report button" not in answer.text


def test_a_factual_question_gets_sentences_not_steps(generator: ExtractiveGenerator) -> None:
    answer = generator.answer("Which toner do the printers on floor 3 use?", ALL)
    assert answer.text.startswith("Printers on floor 3 use HP-300 toner cartridges. [3]")
    assert "\n" not in answer.text


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("How do I reset my password?", True),
        ("how to configure the printer", True),
        ("What are the steps to set up my laptop?", True),
        ("How can I install Zoom?", True),
        ("Set up MFA", True),
        ("How long does a software request take?", False),
        ("Why does my account keep locking?", False),
        ("My VPN keeps disconnecting", False),
    ],
)
def test_procedural_questions(question: str, expected: bool) -> None:
    assert is_procedural(question) is expected


# --- headings are context, never the answer ----------------------------------------------------------


def test_headings_are_not_answer_sentences(generator: ExtractiveGenerator) -> None:
    answer = generator.answer("What are the toner rules?", [PRINTING])
    assert answer.found
    assert answer.text.startswith("Order toner from the service catalog when the display warns. [3]")
    assert "Toner rules" not in answer.text
    assert "Paper:" not in generator.answer("Who refills the paper trays?", [PRINTING]).text


def test_a_heading_tells_which_sentence_answers(generator: ExtractiveGenerator) -> None:
    # "phone" appears in several sections; a sentence under "Lost phone" answers.
    answer = generator.answer("My phone is lost", [AUTHENTICATOR])
    assert answer.sentences[0].text in {
        "If you lost the phone, call the help line on extension 100.",
        "The agent issues a one-day pass that you use to enrol the new phone.",
        "Report a lost company phone as an incident as well.",
    }
    assert "Lost phone:" not in answer.text


def test_a_bare_heading_or_the_title_again_is_never_the_answer(generator: ExtractiveGenerator) -> None:
    passage = Passage(
        index=1,
        title="Resetting your password",
        text="Resetting your password. Troubleshooting: Reset it yourself in the self-service portal. "
        "Password rules:",
    )
    answer = generator.answer("How do I reset my password?", [passage])
    assert answer.text == "Reset it yourself in the self-service portal. [1]"


def test_a_plain_text_title_line_is_cut_from_the_first_sentence(generator: ExtractiveGenerator) -> None:
    answer = generator.answer("What is the single point of contact?", [CONTACT])
    assert answer.text.startswith("The help desk is the single point of contact. [4]")


def test_labelled_sentences_keep_their_label(generator: ExtractiveGenerator) -> None:
    answer = generator.answer("Which extension is the help desk phone?", [CONTACT])
    assert answer.text.startswith("Phone: extension 100, staffed 24 hours a day for outages. [4]")


def test_troubleshooting_items_answer_symptoms(generator: ExtractiveGenerator) -> None:
    answer = generator.answer("My tunnel keeps dropping", ALL)
    assert answer.text.startswith(
        "**Drops every few minutes**: update the client from the software portal and restart. [2]"
    )


# --- support is judged at the passage level -----------------------------------------------------------


def test_support_is_judged_on_the_passage_and_the_sentence_chosen_within_it() -> None:
    # No single sentence holds most of "pass", "lost", "authenticator", "issued", "extension 100";
    # the passage holds them all.
    question = "Is the pass for a lost authenticator issued via extension 100?"
    assert not ExtractiveGenerator(strategy="sentence").answer(question, ALL).found
    answer = ExtractiveGenerator().answer(question, ALL)
    assert answer.found
    assert answer.citations[0] == 1
    assert answer.sentences[0].text in {
        "If you lost the phone, call the help line on extension 100.",
        "The agent issues a one-day pass that you use to enrol the new phone.",
    }


def test_min_support_is_the_passage_share_of_the_question() -> None:
    question = "Which toner does the tunnel gateway use?"  # half in one passage, half in another
    assert not ExtractiveGenerator(min_support=0.9).answer(question, ALL).found
    assert ExtractiveGenerator(min_support=0.3).answer(question, ALL).found


def test_min_sentence_support_gates_the_chosen_sentence() -> None:
    question = "Which toner do the printers on floor 3 use?"
    assert ExtractiveGenerator(min_sentence_support=0.3).answer(question, [PRINTING]).found
    strict = ExtractiveGenerator(min_support=0.1, min_sentence_support=1.0)
    assert not strict.answer("Which toner does the display of floor 3 show?", [PRINTING]).found


@pytest.mark.parametrize(
    "question",
    [
        "What is the cafeteria menu today?",
        "When is payday this month?",
        "How do I change the ringtone on my desk phone?",
        "How much does a new laptop cost?",
        "Where can I park my car at the office?",
    ],
)
def test_questions_the_context_does_not_answer_get_not_found(
    generator: ExtractiveGenerator, question: str
) -> None:
    answer = generator.answer(question, ALL)
    assert not answer.found
    assert answer.text == NOT_FOUND
    assert answer.citations == ()


def test_synonyms_and_joined_phrases_count() -> None:
    assert content_terms("How do I log in over Wi-Fi?") == ["signin", "wifi"]
    assert content_terms("set up e-mail") == ["setup", "email"]
    assert content_terms("My VPN keeps disconnecting") == ["vpn", "disconnect"]
    answer = ExtractiveGenerator().answer("How do I log in to the tunnel?", [REMOTE])
    assert answer.found and "Sign in with your username" in answer.text


def test_a_duration_question_prefers_a_sentence_with_a_time() -> None:
    answer = ExtractiveGenerator().answer("When is the chat channel staffed?", [CONTACT])
    assert answer.sentences[0].text.startswith("Chat: the IT Help channel, 08:00 to 18:00")


# --- options and format -------------------------------------------------------------------------


def test_strategy_option() -> None:
    assert ExtractiveGenerator().strategy == "passage"
    assert ExtractiveGenerator().min_support == DEFAULT_MIN_SUPPORT["passage"]
    assert ExtractiveGenerator(strategy="sentence").min_support == DEFAULT_MIN_SUPPORT["sentence"] == 0.6
    with pytest.raises(ValueError, match="strategy"):
        ExtractiveGenerator(strategy="paragraph")
    with pytest.raises(ValueError, match="max_steps"):
        ExtractiveGenerator(max_steps=0)
    with pytest.raises(ValueError, match="min_sentence_support"):
        ExtractiveGenerator(min_sentence_support=1.5)
    with pytest.raises(ValueError, match="heading_weight"):
        ExtractiveGenerator(heading_weight=-0.1)


def test_split_prose_keeps_semicolons_and_splits_before_emphasis() -> None:
    text = "Check the size; the limit is 35 MB. **Slow**: restart it. Version 2.5 is out."
    assert split_prose(text) == [
        "Check the size; the limit is 35 MB.",
        "**Slow**: restart it.",
        "Version 2.5 is out.",
    ]


def test_answers_through_the_chat_format_are_deterministic(generator: ExtractiveGenerator) -> None:
    messages = [
        {"role": "system", "content": "Passages:\n" + format_passages(ALL)},
        {"role": "user", "content": "How do I set up the authenticator on a new phone?"},
    ]
    assert parse_passages(messages[0]["content"]) == ALL
    first = generator.respond(messages)
    assert first.text is not None and first.text.endswith("[1]")
    assert first.metadata["found"] is True and first.metadata["citations"] == [1]
    assert all(generator.respond(messages) == first for _ in range(3))


def test_words_that_only_ask_for_a_fix_do_not_count_against_support() -> None:
    # "fix" names the wish, not the topic: the passage answers with the remedy.
    passage = Passage(
        index=1,
        title="Tunnel troubleshooting",
        text="When the tunnel client fails to connect, reset the token from the portal. Then restart it.",
    )
    answer = ExtractiveGenerator().answer("How do I fix a tunnel client that fails to connect?", [passage])
    assert answer.found and "reset the token" in answer.text
    assert ExtractiveGenerator().answer("fix", [passage]).text == NOT_FOUND  # nothing else to go on


def test_a_short_first_step_still_ends_its_heading() -> None:
    passage = Passage(
        index=1,
        title="Resetting your password",
        text="Reset it yourself: Open the portal. Enter your username. Choose a new password.",
    )
    answer = ExtractiveGenerator().answer("How do I reset my password?", [passage])
    assert answer.text == (
        "Reset it yourself:\n1. Open the portal.\n2. Enter your username.\n3. Choose a new password. [1]"
    )
