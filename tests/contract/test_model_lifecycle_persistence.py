"""Catalogue models keep their lifecycle (dates and replacement) on memory, SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
from datetime import date

from asynccoder.application.ports.ai import ModelFilter
from asynccoder.domain.ai import Provider
from asynccoder.domain.ai_catalogue import CatalogueModel
from tests.contract.conftest import UowFactory
from tests.support.ai_catalogue_builders import make_config, make_model


async def setup(uow_factory: UowFactory, *models: CatalogueModel) -> None:
    async with uow_factory() as uow:
        await uow.ai_catalogue.save_provider_config(make_config(Provider.ANTHROPIC))
        for model in models:
            await uow.ai_catalogue.add_model(model)
        await uow.commit()


async def test_lifecycle_dates_and_the_replacement_are_read_back_exactly(uow_factory: UowFactory) -> None:
    replacement = make_model()
    model = make_model(
        deprecated_on=date(2031, 3, 1), retires_on=date(2031, 6, 1), replacement_model_id=replacement.id
    )
    undated = make_model()
    await setup(uow_factory, replacement, model, undated)
    async with uow_factory() as uow:
        assert await uow.ai_catalogue.get_model(model.id) == model
        assert await uow.ai_catalogue.get_model(undated.id) == undated
        listed = {m.id: m for m in await uow.ai_catalogue.list_models(ModelFilter())}
        assert listed[model.id] == model


async def test_lifecycle_fields_are_updated_and_cleared(uow_factory: UowFactory) -> None:
    replacement = make_model()
    model = make_model()
    await setup(uow_factory, replacement, model)
    dated = dataclasses.replace(
        model,
        deprecated_on=date(2031, 3, 1),
        retires_on=date(2031, 3, 1),
        replacement_model_id=replacement.id,
    )
    async with uow_factory() as uow:
        await uow.ai_catalogue.update_model(dated)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.ai_catalogue.get_model(model.id) == dated
        cleared = dataclasses.replace(dated, deprecated_on=None, retires_on=None, replacement_model_id=None)
        await uow.ai_catalogue.update_model(cleared)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.ai_catalogue.get_model(model.id) == model


async def test_deleting_a_model_clears_it_as_the_replacement_of_others(uow_factory: UowFactory) -> None:
    replacement = make_model()
    model = make_model(retires_on=date(2031, 6, 1), replacement_model_id=replacement.id)
    await setup(uow_factory, replacement, model)
    async with uow_factory() as uow:
        assert await uow.ai_catalogue.delete_model(replacement.id) is True
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.ai_catalogue.get_model(model.id) == dataclasses.replace(
            model, replacement_model_id=None
        )
