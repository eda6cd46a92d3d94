"""cut_reply_text / cut_reply_html: keep the new text of a reply, never lose a whole message."""
from __future__ import annotations


import pytest

from shared_code.domain.mail import parse_mail
from shared_code.domain.quotes import DEFAULT_SEPARATOR, cut_reply_html, cut_reply_text
from tests.data import load
from tests.work_budget import cpu_budget

SEP = DEFAULT_SEPARATOR


# --- text -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Fixed, thanks.\n\n-- reply above this line --\nold",
        "Fixed, thanks.\n\n-- REPLY ABOVE THIS LINE --\nold",
        "Fixed, thanks.\n\n> -- reply above this line --\n> old",
        "Fixed, thanks.\n> > -- reply  above this line --",
        "Fixed, thanks.\nOn Mon, Jan 6, 2025 at 4:20 PM Contoso Support <support@contoso.example> wrote:\n> old",
        "Fixed, thanks.\n\nOn Mon, Jan 6, 2025 at 4:20 PM Contoso Support <\nsupport@contoso.example> wrote:\n\n> old",
        "Fixed, thanks.\n\nOn Mon, Jan 6, 2025 at 4:20 PM Contoso Support\n<support@contoso.example>\nwrote:\n> old",
        "Fixed, thanks.\n\nOn Jan 6, 2025, at 16:20, Contoso Support <support@contoso.example> wrote:\n\n> old",
        "Fixed, thanks.\n\n> On Jan 6, 2025, at 16:20, Contoso Support <support@contoso.example> wrote:\n> old",
        "Fixed, thanks.\n\nAm Mo., 6. Jan. 2025 um 16:20 Uhr schrieb Contoso Support <support@contoso.example>:\n> alt",
        "Fixed, thanks.\n\nAm 06.01.2025 um 16:20 schrieb Contoso Support:\n> alt",
        "Fixed, thanks.\n\nLe lun. 6 janv. 2025 à 16:20, Contoso Support <support@contoso.example> a écrit :\n> ancien",
        "Fixed, thanks.\n\n-----Original Message-----\nFrom: Contoso Support\nSent: Monday\n\nold",
        "Fixed, thanks.\n\n-----Ursprüngliche Nachricht-----\nVon: Contoso Support\n",
        "Fixed, thanks.\n\n________________________________\nFrom: Contoso Support <support@contoso.example>\n"
        "Sent: Monday, January 6, 2025 4:20 PM\nTo: Alice <alice@example.com>\nSubject: RE: [#108749] x\n\nold",
        "Fixed, thanks.\n\nVon: Contoso Support <support@contoso.example>\nGesendet: Montag, 6. Januar 2025 16:20\n"
        "An: Alice\nBetreff: AW: [#108749] x\n\nalt",
        "Fixed, thanks.\n\nDe : Contoso Support\nEnvoyé : lundi 6 janvier 2025 16:20\nÀ : Alice\nObjet : RE: x\n",
        "Fixed, thanks.\n\n> quoted\n>\n> more quoted\n\n",
        # Outlook in a language whose header words are not known: the rule and the header
        # block above the quoted separator go with the quote (they name who got the mail)
        "Fixed, thanks.\n\n________________________________\n差出人: Contoso Support <support@contoso.example>\n"
        "送信日時: 2025年1月6日 16:20\n宛先: Andy <agent@contoso.example>\n件名: RE: [#108749] x\n\n"
        "-- reply above this line --\nold",
        "Fixed, thanks.\n\n-----Оригинальное сообщение-----\nОт: Contoso Support\nОтправлено: понедельник\n"
        "Кому: Andy <agent@contoso.example>\nТема: x\n\n-- reply above this line --\nold",
    ],
)
def test_text_is_cut(text):
    assert cut_reply_text(text, SEP) == "Fixed, thanks."


def test_inline_answers_keep_everything_above_the_last_quote():
    text = "> question 1\nanswer 1\n> question 2\nanswer 2\n\n> trailing quote"
    assert cut_reply_text(text, SEP) == "> question 1\nanswer 1\n> question 2\nanswer 2"


@pytest.mark.parametrize(
    "text",
    [
        "No quote here.\nOn the other hand, Bob wrote:\nthis is my text",  # no date: not an attribution
        "---------- Forwarded message ---------\nFrom: Heidi <heidi@example.com>\nDate: Thu, Jan 9, 2025\n"
        "Subject: x\nTo: Alice\n\nbody\n\nOn Wed, Jan 8, 2025 at 10:00 AM Alice wrote:\n> q",
        "FYI\n\nBegin forwarded message:\n\nFrom: Heidi <heidi@example.com>\nSubject: x\nDate: 9 January 2025\n\nbody",
        "-- reply above this line --\n> everything is quoted",  # would leave nothing
        "> only a quote",
        "",
    ],
)
def test_text_is_kept(text):
    assert cut_reply_text(text, SEP) == text


def test_label_lines_above_the_separator_without_a_rule_are_the_reply():
    text = "Fixed: restarted.\nNote: it was the fuse.\n-- reply above this line --\nold"
    assert cut_reply_text(text, SEP) == "Fixed: restarted.\nNote: it was the fuse."


def test_custom_separator():
    assert cut_reply_text("new\n##- Please type your reply above this line -##\nold", "Please type your reply above this line") == "new"


def test_corpus_gmail_reply_text():
    mail = parse_mail(load("gmail_reply.eml"))
    assert cut_reply_text(mail.text_body, SEP) == "Thanks, clearing the cache fixed it. You can close the ticket.\n\nAlice"


def test_corpus_apple_reply_text():
    mail = parse_mail(load("apple_reply.eml"))
    assert cut_reply_text(mail.text_body, SEP) == (
        "The update to version 5.2 fixed the crash. This line is long enough to be wrapped by format=flowed.\n\nGrace"
    )


def test_corpus_forward_text_is_not_cut():
    mail = parse_mail(load("forward.eml"))
    assert cut_reply_text(mail.text_body, SEP) == mail.text_body


# --- HTML -------------------------------------------------------------------------------------


def test_html_gmail_quote():
    html = parse_mail(load("gmail_reply.eml")).html_body
    cut = cut_reply_html(html, SEP)
    assert "Thanks, clearing the cache fixed it." in cut
    assert "gmail_quote" not in cut and "reply above" not in cut and "wrote:" not in cut
    assert cut.strip().endswith("</div>")


def test_html_apple_blockquote_cite_and_attribution():
    html = parse_mail(load("apple_reply.eml")).html_body
    cut = cut_reply_html(html, SEP)
    assert "fixed the crash" in cut and "Grace" in cut
    assert "blockquote" not in cut and "On Jan 8" not in cut
    assert cut.count("<div") == cut.count("</div>")


@pytest.mark.parametrize(
    "quote",
    [
        '<div class="gmail_quote"><div class="gmail_attr">On Mon, Jan 6, 2025 wrote:</div><blockquote>old</blockquote></div>',
        '<blockquote type="cite">old</blockquote>',
        '<div id="appendonsend"></div><hr style="display:inline-block;width:98%"><div id="divRplyFwdMsg" dir="ltr">'
        "<b>From:</b> Support<br><b>Sent:</b> Monday<br><b>Subject:</b> x</div><div>old</div>",
        '<hr tabindex="-1"><div id="divRplyFwdMsg"><b>From:</b> Support</div><div>old</div>',
        '<div><div style="border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm 0cm 0cm">'
        '<p class="MsoNormal"><b>From:</b> Support<br><b>Sent:</b> Monday<br><b>Subject:</b> x</p></div></div><p>old</p>',
        "<div style='border:none;border-top:solid #B5C4DF 1.0pt'><p><b>Von:</b> Support</p></div>",
        "<p><b>From:</b> Support &lt;support@contoso.example&gt;<br><b>Sent:</b> Monday, January 6, 2025<br>"
        "<b>To:</b> Alice<br><b>Subject:</b> RE: x</p><p>old</p>",
        "<p>-----Original Message-----<br>From: Support</p>",
        '<div style="color:#999">-- Reply above this line --</div><div>old</div>',
        "<p>&gt; -- reply above this line --</p>",
        '<div class="moz-cite-prefix">On 06.01.2025 16:20, Support wrote:<br></div><blockquote type="cite">old</blockquote>',
        '<div class="yahoo_quoted"><div>On Monday, January 6, 2025, Support wrote:</div>old</div>',
        '<div id="mail-editor-reference-message-container"><b>From: </b>Support</div>',
        "<div>On Mon, Jan 6, 2025 at 4:20 PM Support &lt;<a href=\"mailto:s@contoso.example\">s@contoso.example</a>&gt; wrote:</div>old",
    ],
)
def test_html_markers(quote):
    html = f"<html><body><div>New text</div><div><br></div>{quote}</body></html>"
    cut = cut_reply_html(html, SEP)
    assert "New text" in cut
    assert "old" not in cut and "Support" not in cut and "reply above" not in cut
    assert cut.endswith("</body></html>")


def test_html_forward_is_not_cut():
    html = parse_mail(load("forward.eml")).html_body
    assert cut_reply_html(html, SEP) == html


def test_html_apple_forward_is_not_cut():
    html = '<div>FYI</div><div><br><div>Begin forwarded message:</div><br><blockquote type="cite">body</blockquote></div>'
    assert cut_reply_html(html, SEP) == html


def test_html_kept_when_nothing_would_be_left():
    html = '<div class="gmail_quote">On Mon, Jan 6, 2025 Support wrote:<blockquote>old</blockquote></div>'
    assert cut_reply_html(html, SEP) == html
    only_space = '<div><br></div>&nbsp;<blockquote type="cite">old</blockquote>'
    assert cut_reply_html(only_space, SEP) == only_space


def test_html_image_above_quote_counts_as_content():
    html = '<p><img src="cid:shot"></p><blockquote type="cite">old</blockquote>'
    assert cut_reply_html(html, SEP) == '<p><img src="cid:shot"></p>'


def test_html_without_markers_unchanged():
    html = "<p>Just a message with a <blockquote>quoted proverb</blockquote> in it.</p>"
    assert cut_reply_html(html, SEP) == html


def test_html_trailing_empty_elements_removed_and_tags_closed():
    html = '<div><p>Done.</p><p><o:p>&nbsp;</o:p></p><div><div id="divRplyFwdMsg">From: x</div></div></div>'
    assert cut_reply_html(html, SEP) == "<div><p>Done.</p></div>"


def test_html_garbage_never_raises():
    for html in ["<", "<div", "<<<>>>", "<blockquote type=cite", "</div></div>", '<div class="gmail_quote"']:
        assert isinstance(cut_reply_html(html, SEP), str)


@pytest.mark.parametrize(
    "html",
    [
        '<div class="' + "x " * 100_000,
        "<div>" * 50_000 + "x",
        ("<p>On Mon, 2025 Bob wrote:</p><div>x</div>") * 5_000,
        "x" + "<br>" * 100_000 + '<blockquote type="cite">q',
        "<a" * 100_000,
        "<div><div></div></div>" * 30_000 + '<blockquote type="cite">',
        "x" + "</span>" * 100_000,
    ],
    ids=lambda h: repr(h[:8]),
)
def test_html_cut_is_fast_on_hostile_markup(html):
    with cpu_budget(5):
        assert isinstance(cut_reply_html(html, SEP), str)


def test_text_cut_is_fast_on_long_lines():
    with cpu_budget(5):
        cut_reply_text(("On " + "1 " * 100_000 + "\n") * 3 + "> q", SEP)
        cut_reply_text("From: x\n" * 50_000, SEP)


def test_a_picture_just_above_the_quote_stays_with_the_reply():
    """A signature logo between the text and the quote belongs to the reply: the quote's
    first line starts at its own block, not at the picture before it."""
    html = ('<div>See the logo.</div><img src="cid:logo@x"><div class="gmail_quote">On Tue, Dec 1, '
            '2026 at 2:00 AM Support wrote:<blockquote>old <img src="cid:old@x"></blockquote></div>')
    kept = cut_reply_html(html, SEP)
    assert 'cid:logo@x' in kept and "old" not in kept
