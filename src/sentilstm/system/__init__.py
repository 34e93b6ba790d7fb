"""What the machine gives: files written safely (`files`), CPU threads (`threads`), memory estimates (`memory`),
devices and precision (`device`)."""
