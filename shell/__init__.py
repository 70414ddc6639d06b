"""The command shell on top of everything: the ``streamrec`` CLI, the embedded broker,
the demo, traffic generation, the subscriber and the ``model``/``replay``/``ope``
commands. Nothing imports it back."""
