"""Reports: their sections (`sections`), one-file HTML (`html`), plots (`plots`), the data profile (`profiling`),
model summaries (`summary`) and the report builders (`builders`)."""
