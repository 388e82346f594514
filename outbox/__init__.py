"""The outbox: notifications in words, and sending them by e-mail, daily digest and webhook.

Used by the web app (the notification centre words each notification with
:mod:`outbox.wording`) and by the scheduler (:mod:`outbox.dispatch` sends what is due), which
needs no Flask app for it: the words come from the interface's message catalog through
Babel directly.
"""
