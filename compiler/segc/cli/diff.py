import click
@click.command()
def diff():
    pass
