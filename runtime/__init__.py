"""Runtime pieces shared by training, inference and evaluation: chat formats, the tool sandbox, backends."""
