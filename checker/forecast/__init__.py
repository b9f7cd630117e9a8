"""`cbcheck forecast`: every finding that will appear within N days if nothing is done, found by
evaluating each partition with the engine on the dates its result can change
(checker.engine.change_dates), and its renderers (text, json, html, iCalendar)."""
