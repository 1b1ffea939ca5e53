  return { create, CartsealError, MESSAGES, messageFor, lockName, VERSION };
  // @factory-end
});

