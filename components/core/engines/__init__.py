"""The engines: which image a service runs, which release it holds, and the start script it gets.

``launch`` decides every flag of the start command (and the default image, and the release a tag
names); ``releases`` lists the releases that exist; ``image_checks`` holds the image against
what the stack file says; ``rendering`` lays the decided flags out in the Jinja template.
"""
