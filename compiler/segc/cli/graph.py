import click


@click.command()
def graph():
    pass
