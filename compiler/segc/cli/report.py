import click


@click.command()
def report():
    pass
