"""Issues and editions: selection of stories, drafting, and the scheduling state machine."""
