"""quality: the data-quality sentinel (rule checks, learned scores, events, webhooks)."""
