"""Intake: requests that arrive by e-mail become cases, or entries a case handler triages.

- `order`: eInnsyn's order.xml (v1, v2), read with defusedxml and checked;
- `mapping`: an order's journal documents -> the class lists they are (journal_documents.csv);
- `triage`: what intake could not make a case of, and a handler's mapping of it by hand;
- `mail`: one e-mail message, read safely: sender, subject, the order attached;
- `maildir`: `innsyn intake maildir DIR`: each new message handled once, then moved to cur/.
"""
