"""Close-out (section 10): the close-out checklist pinned at hand-back and its stamped items (CLO-04), and the
inhibits of safety systems taken for the work with their confirmed restoration (CLO-06)."""
