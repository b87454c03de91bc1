"""nbgrader configuration: this folder is the course root."""
c = get_config()  # noqa: F821

c.CourseDirectory.course_id = "action-diffusion"
c.CourseDirectory.root = __file__.rsplit("/", 1)[0]
c.Exchange.assignment_dir = "."
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.Execute.timeout = 60
